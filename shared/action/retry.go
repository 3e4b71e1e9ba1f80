package action

import (
	"context"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// WithRetry retries the wrapped step under p (see package retry for the
// schedule and which errors are retried). For each try it sets ac.Attempt to
// the try's number, 1 first, and restores the old value when done. Before
// each sleep it logs the failure at Warn level, publishes a RETRYING event
// with the failed attempt's number and error, and calls p.OnRetry if set.
//
// When the retries end in failure the error is a *retry.Error, which holds
// every attempt's error; WithDeadLetter records them. An invalid p fails
// every call with p.Validate()'s error; check it beforehand.
//
// Panics are not retried: they pass through to an outer WithErrorHandling.
func WithRetry(p retry.Policy) StepMiddleware {
	userOnRetry := p.OnRetry
	return func(next Step) Step {
		return func(ctx context.Context, ac *JobInfo, in any) (any, error) {
			saved := ac.Attempt
			defer func() { ac.Attempt = saved }()
			pol := p
			pol.OnRetry = func(attempt int, err error, delay time.Duration) {
				ac.logger(nil).Warn("action failed, retrying",
					append(ac.logFields(), "error_class", faults.ClassOf(err).String(), "error", err, "delay", delay.String())...)
				ac.publish(status.Retrying, attempt, err)
				if userOnRetry != nil {
					userOnRetry(attempt, err, delay)
				}
			}
			return retry.DoValue(ctx, pol, func(ctx context.Context, attempt int) (any, error) {
				ac.Attempt = attempt
				return next(ctx, ac, in)
			})
		}
	}
}
