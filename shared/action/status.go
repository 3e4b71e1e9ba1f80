package action

import (
	"context"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// WithStatus publishes the job's status to ac.Status: PROCESSING when the
// wrapped step starts, then COMPLETED when it returns nil or FAILED (with the
// error's text and faults class) when it returns an error. WithRetry adds
// RETRYING events in between. Every event carries ac's JobID, WorkerID,
// Attempt, a copy of its Headers, and the time.
//
// Every Pipeline has WithStatus outermost, so a pipeline's job reports its
// status without asking. WithStatus does nothing when ac.Status is nil, and
// nothing when an outer WithStatus is already running for ac: a nested
// pipeline does not report the job COMPLETED before the outer one finishes.
func WithStatus() Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, ac *Context, in any) (any, error) {
			if ac.Status == nil || ac.statusActive {
				return next(ctx, ac, in)
			}
			ac.statusActive = true
			defer func() { ac.statusActive = false }()
			ac.publish(status.Processing, ac.Attempt, nil)
			out, err := next(ctx, ac, in)
			if err != nil {
				ac.publish(status.Failed, ac.Attempt, err)
				return out, err
			}
			ac.publish(status.Completed, ac.Attempt, nil)
			return out, nil
		}
	}
}
