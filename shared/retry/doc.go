// Package retry runs a function until it succeeds, with exponential backoff,
// full jitter, error classification and context-aware sleeps.
//
// [Do] calls fn(ctx, attempt) (attempt 1 first) until it succeeds, the
// attempts run out, it returns an error that is not retryable, or ctx ends
// (which also ends a sleep at once). [DoValue] is the same for a function
// that returns a value. The action pipeline's WithRetry wrapper
// (package shared/action) runs this loop around an action.
//
// # Policy and defaults
//
// A [Policy] is a plain struct whose zero value is the default policy: a
// zero field means its default.
//
//	field             default                           meaning
//	MaxAttempts       3                                 calls in all, the first included; 1 means no retries
//	BaseDelay         1s                                backoff window before the first retry; doubles for each further retry
//	MaxDelay          30s                               caps every delay: the window, DelayFunc's result and retry-after hints
//	NoJitter          false                             full jitter is on
//	RetryableClasses  transient, system, unknown        classes retried; permanent and business errors are not
//	Retryable         none                              func(error) bool; when set it alone decides, RetryableClasses is ignored
//	DelayFunc         none                              func(n int) time.Duration; replaces the exponential schedule
//	OnRetry           none                              called before each sleep with the failed attempt's number, its error and the delay
//	Clock, Rand       real time, math/rand/v2.Float64   replace them in tests (package retrytest has a fake clock)
//
// The defaults are also exported as [DefaultMaxAttempts], [DefaultBaseDelay],
// [DefaultMaxDelay] and [DefaultRetryableClasses] (in defaults.go).
// [Policy.Validate] rejects negative values and unknown classes, naming the
// field; Do with an invalid policy returns that error without calling fn.
//
// # Schedule
//
// The delay before retry n (n = 0 before the second call, 1 before the third,
// ...) is chosen by the first rule that applies:
//
//  1. The failed call's error carries a retry-after hint: delay =
//     min(MaxDelay, hint), no jitter. A hint is set by
//     [faults.WithRetryAfter], by an open circuit breaker (shared/action),
//     or by any error in the chain with a RetryAfter() time.Duration method
//     returning more than 0 ([faults.RetryAfter] reads it).
//  2. DelayFunc is set: delay = min(MaxDelay, DelayFunc(n)). No jitter. A
//     negative result (which is what integer overflow usually produces) stops
//     the retries with an error wrapping [ErrNegativeDelay].
//  3. Otherwise exponential backoff with full jitter, below.
//
// The backoff window and the jittered delay are
//
//	window = min(MaxDelay, BaseDelay · 2^n)
//	delay  = Rand() · window     uniform in [0, window]; with NoJitter, delay = window
//
// so with the defaults the windows are 1s, 2s, 4s, 8s, 16s, then 30s.
// Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015)
// spreads retries from many clients over the whole window so they do not
// return in lock-step. [Policy.Delay] returns the delay for any retry, so a
// schedule can be checked without running it.
//
// # Which errors are retried
//
// A call's error is retried if Retryable(err) is true when Retryable is set;
// otherwise if faults.ClassOf(err) is in RetryableClasses. A cancelled or
// expired context always stops the loop.
//
// # Result
//
// [Do] returns nil on success. When it gives up it returns an [*Error]:
// Attempts (how many calls were made), Last (the last error), All (every
// attempt's error, a go-multierror; also [Error.Errors]) and Stopped (the
// context's error, or the schedule error, when that ended the loop).
// errors.Is and errors.As see through it to Last and Stopped.
// faults.ClassOf gives Last's class, except that a cancelled context makes
// it permanent (so an outer loop does not retry a cancelled job) and an
// expired one transient.
//
// # Testing
//
// Policy.Clock and Policy.Rand replace time and randomness. Package
// retrytest provides a fake clock whose sleepers a test can wait for and
// release, so schedules are tested exactly, without real sleeps.
//
// # Concurrency
//
// A Policy is a value; Do and DoValue may be called concurrently with the
// same Policy provided its callbacks (Retryable, DelayFunc, Rand, OnRetry)
// and Clock are safe for concurrent use. The defaults are. Do calls fn,
// the callbacks and Clock on the calling goroutine only and starts no
// goroutines.
package retry
