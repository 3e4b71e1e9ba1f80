// Package retry runs a function until it succeeds, with exponential backoff,
// full jitter, error classification and context-aware sleeps.
//
// # Policy and defaults
//
// A [Policy] is a plain struct whose zero value is usable: a zero field means
// its default.
//
//	MaxAttempts        3 (total calls, including the first; 1 means no retries)
//	BaseDelay          1s
//	MaxDelay           30s
//	NoJitter           false (full jitter is on)
//	RetryableClasses   transient, system, unknown (permanent and business errors are not retried)
//
// The defaults are also exported as [DefaultMaxAttempts], [DefaultBaseDelay],
// [DefaultMaxDelay] and [DefaultRetryableClasses].
//
// # Schedule
//
// The delay before retry n (n = 0 before the second call, 1 before the third,
// ...) is chosen by the first rule that applies:
//
//  1. The failed call's error carries a retry-after hint ([faults.RetryAfter]):
//     delay = min(MaxDelay, hint). No jitter.
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
// so with the defaults the windows are 1s, 2s, 4s, ... up to 30s.
// Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015)
// spreads retries from many clients over the whole window so they do not
// return in lock-step. [Policy.Delay] exposes the schedule.
//
// # Which errors are retried
//
// A call's error is retried if Retryable(err) is true when Retryable is set;
// otherwise if faults.ClassOf(err) is in RetryableClasses. A cancelled or
// expired context always stops the loop.
//
// # Result
//
// [Do] returns nil on success and otherwise an [*Error] holding the attempt
// count, the last error and every attempt's error (a go-multierror), plus the
// context's error when cancellation stopped the loop. errors.Is, errors.As
// and faults.ClassOf see through it.
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
