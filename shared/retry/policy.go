package retry

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// Policy says how many times to call a function and how long to wait between
// calls. The zero value is the default policy; see the package documentation
// for the defaults and the delay formula.
type Policy struct {
	// MaxAttempts is the total number of calls, including the first.
	// 0 means DefaultMaxAttempts (3); 1 means no retries.
	MaxAttempts int

	// BaseDelay is the backoff window before the first retry; the window
	// doubles for each further retry. 0 means DefaultBaseDelay (1s). For no
	// delay at all, use a DelayFunc that returns 0.
	BaseDelay time.Duration

	// MaxDelay caps every delay: the backoff window, DelayFunc's result and
	// retry-after hints. 0 means DefaultMaxDelay (30s).
	MaxDelay time.Duration

	// NoJitter turns full jitter off: each delay is then the whole window,
	// min(MaxDelay, BaseDelay·2^n).
	NoJitter bool

	// DelayFunc, if set, replaces the exponential schedule: the delay before
	// retry n (0-based) is min(MaxDelay, DelayFunc(n)), without jitter. A
	// negative result stops the retries with an error wrapping
	// ErrNegativeDelay. A retry-after hint on the error still takes
	// precedence.
	DelayFunc func(n int) time.Duration

	// Retryable, if set, decides alone whether an error is retried;
	// RetryableClasses is then ignored.
	Retryable func(err error) bool

	// RetryableClasses lists the error classes (faults.ClassOf) that are
	// retried. Empty means DefaultRetryableClasses: transient, system and
	// unknown.
	RetryableClasses []faults.Class

	// Clock is used for sleeping. nil means SystemClock.
	Clock Clock

	// Rand returns the jitter factor, uniform in [0, 1). nil means
	// math/rand/v2.Float64. Values outside [0, 1] are rejected with an
	// error; 1 is accepted so tests can pick the top of the window.
	Rand func() float64

	// OnRetry, if set, is called before each sleep with the 1-based number
	// of the attempt that failed, its error and the delay that follows.
	OnRetry func(attempt int, err error, delay time.Duration)
}

// Validate reports the first invalid field, naming it. Do and Delay call it.
func (p Policy) Validate() error {
	if p.MaxAttempts < 0 {
		return fmt.Errorf("retry: MaxAttempts must not be negative, got %d (0 means the default, %d)", p.MaxAttempts, DefaultMaxAttempts)
	}
	if p.BaseDelay < 0 {
		return fmt.Errorf("retry: BaseDelay must not be negative, got %v (0 means the default, %v)", p.BaseDelay, DefaultBaseDelay)
	}
	if p.MaxDelay < 0 {
		return fmt.Errorf("retry: MaxDelay must not be negative, got %v (0 means the default, %v)", p.MaxDelay, DefaultMaxDelay)
	}
	for i, c := range p.RetryableClasses {
		if !c.Valid() {
			return fmt.Errorf("retry: RetryableClasses[%d] is %q, not a known class (want transient, permanent, system, business or unknown)", i, string(c))
		}
	}
	return nil
}

// withDefaults returns p with every zero field replaced by its default.
func (p Policy) withDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if len(p.RetryableClasses) == 0 {
		p.RetryableClasses = DefaultRetryableClasses()
	}
	if p.Clock == nil {
		p.Clock = SystemClock{}
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// retryable reports whether err may be retried under p (with defaults).
func (p Policy) retryable(err error) bool {
	if p.Retryable != nil {
		return p.Retryable(err)
	}
	class := faults.ClassOf(err)
	for _, c := range p.RetryableClasses {
		if c == class {
			return true
		}
	}
	return false
}

// ShouldRetry reports whether attempt n (1-based), which failed with err,
// should be followed by another under p: n is below MaxAttempts (0 meaning
// DefaultMaxAttempts) and err is retryable (Retryable, else
// RetryableClasses). It is for callers that run the attempts themselves,
// such as a job queue that makes one attempt per delivery; the delay
// before the next attempt is Delay(n-1, err).
func (p Policy) ShouldRetry(n int, err error) bool {
	p = p.withDefaults()
	return n < p.MaxAttempts && p.retryable(err)
}
