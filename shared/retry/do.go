package retry

import (
	"context"

	"github.com/hashicorp/go-multierror"
)

// Do calls fn until it returns nil, the attempts run out, it returns an error
// that is not retryable, or ctx is done. attempt is 1 for the first call.
// Between calls Do sleeps for the delay the policy gives (see the package
// documentation); a cancelled ctx ends the sleep at once.
//
// Do returns nil on success. If p is invalid it returns p.Validate()'s error
// without calling fn. Otherwise it returns an *Error holding every attempt's
// error; if ctx is done before the first call, fn is not called and the
// *Error has Attempts 0 and Stopped set.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context, attempt int) error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p = p.withDefaults()
	var all *multierror.Error
	fail := func(attempt int, last, stopped error, retryable bool) error {
		return &Error{Attempts: attempt, Last: last, All: all, Stopped: stopped, notRetryable: !retryable}
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			var last error
			if all != nil {
				last = all.Errors[len(all.Errors)-1]
			}
			return fail(attempt-1, last, err, true)
		}
		err := fn(ctx, attempt)
		if err == nil {
			return nil
		}
		all = multierror.Append(all, err)
		if cerr := ctx.Err(); cerr != nil {
			return fail(attempt, err, cerr, true)
		}
		if !p.retryable(err) {
			return fail(attempt, err, nil, false)
		}
		if attempt >= p.MaxAttempts {
			return fail(attempt, err, nil, true)
		}
		d, derr := p.delay(attempt-1, err)
		if derr != nil {
			return fail(attempt, err, derr, true)
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, d)
		}
		if d > 0 {
			select {
			case <-ctx.Done():
				return fail(attempt, err, ctx.Err(), true)
			case <-p.Clock.After(d):
			}
		}
	}
}

// DoValue is Do for functions that return a value. It returns fn's value
// from the successful call, or the zero T and Do's error.
func DoValue[T any](ctx context.Context, p Policy, fn func(ctx context.Context, attempt int) (T, error)) (T, error) {
	var v T
	err := Do(ctx, p, func(ctx context.Context, attempt int) error {
		var err error
		v, err = fn(ctx, attempt)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}
