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
// A panic passing through (when no WithErrorHandling inside recovers it) is
// reported as FAILED and then continues.
//
// Every Pipeline has WithStatus outermost, so a pipeline's job reports its
// status without asking. WithStatus does nothing when ac.Status is nil, and
// nothing when an outer WithStatus is already running for ac: a nested
// pipeline does not report the job COMPLETED before the outer one finishes.
func WithStatus() StepMiddleware {
	return func(next Step) Step {
		return func(ctx context.Context, ac *JobInfo, in any) (any, error) {
			if ac.Status == nil || ac.statusActive {
				return next(ctx, ac, in)
			}
			ac.statusActive = true
			finished := false
			defer func() {
				ac.statusActive = false
				if finished {
					return
				}
				// A panic is passing through: report it and let it go on.
				// (recover returns nil for runtime.Goexit, which goes on by itself.)
				if v := recover(); v != nil {
					ac.publish(status.Failed, ac.Attempt, &PanicError{Value: v})
					panic(v)
				}
			}()
			ac.publish(status.Processing, ac.Attempt, nil)
			out, err := next(ctx, ac, in)
			finished = true
			if err != nil {
				ac.publish(status.Failed, ac.Attempt, err)
				return out, err
			}
			ac.publish(status.Completed, ac.Attempt, nil)
			return out, nil
		}
	}
}
