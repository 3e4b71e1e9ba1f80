package retry

import (
	"errors"
	"fmt"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// Errors a schedule can fail with. Match them with errors.Is.
var (
	// ErrNegativeDelay is wrapped by the error returned when
	// Policy.DelayFunc returns a negative duration.
	ErrNegativeDelay = errors.New("delay function must return a non-negative duration")

	// ErrBadRand is wrapped by the error returned when Policy.Rand returns a
	// value outside [0, 1].
	ErrBadRand = errors.New("random source must return a value in [0, 1]")
)

// Delay returns how long Do waits before retry n (0-based: n = 0 is the wait
// after the first call failed with err). It applies the defaults and the
// rules in the package documentation, and fails if p is invalid, n is
// negative, DelayFunc returns a negative duration or Rand leaves [0, 1].
func (p Policy) Delay(n int, err error) (time.Duration, error) {
	if verr := p.Validate(); verr != nil {
		return 0, verr
	}
	if n < 0 {
		return 0, fmt.Errorf("retry: Delay: retry number must not be negative, got %d", n)
	}
	return p.withDefaults().delay(n, err)
}

// delay is Delay for a valid policy with defaults applied.
func (p Policy) delay(n int, err error) (time.Duration, error) {
	if hint, ok := faults.RetryAfter(err); ok {
		return min(hint, p.MaxDelay), nil
	}
	if p.DelayFunc != nil {
		d := p.DelayFunc(n)
		if d < 0 {
			return 0, fmt.Errorf("retry: DelayFunc(%d) = %v: %w", n, d, ErrNegativeDelay)
		}
		return min(d, p.MaxDelay), nil
	}
	window := backoffWindow(p.BaseDelay, p.MaxDelay, n)
	if p.NoJitter {
		return window, nil
	}
	r := p.Rand()
	if !(r >= 0 && r <= 1) { // also rejects NaN
		return 0, fmt.Errorf("retry: Rand() = %v: %w", r, ErrBadRand)
	}
	d := time.Duration(r * float64(window))
	if d < 0 || d > window { // float rounding near math.MaxInt64
		d = window
	}
	return d, nil
}

// backoffWindow returns min(maxDelay, base·2^n) without overflowing.
func backoffWindow(base, maxDelay time.Duration, n int) time.Duration {
	if n >= 63 || base > maxDelay>>n {
		return maxDelay
	}
	return min(base<<n, maxDelay)
}
