// Package faults classifies errors so that retry loops, circuit breakers,
// logs and the host can decide what to do with a failure without comparing
// error strings.
//
// # Classes
//
// Every error has one [Class]:
//
//   - [Transient]: timeouts, refused or reset connections, a dependency that
//     is briefly unavailable. Retrying may help.
//   - [Permanent]: invalid input, a missing file or dependency, a cancelled
//     call. Retrying the same call cannot help.
//   - [System]: resource or configuration trouble (disk full, too many open
//     files, out of memory, a recovered panic). Retrying may help once the
//     operator fixes the cause.
//   - [Business]: a domain rule failed ("insufficient funds"). The call worked;
//     the answer was no.
//   - [Unknown]: nothing in the error says. Package retry retries unknown
//     errors by default.
//
// # Declaring a class
//
// Wrap an error with [New], or build one with [Transientf], [Permanentf],
// [Systemf] or [Businessf]. Any error type, including one defined in another
// package such as the error a worker returns across the process boundary,
// declares its class by implementing [Classifier]; [ClassOf] finds it with the
// same chain walk as errors.As, so wrapping with fmt.Errorf("...: %w", err)
// keeps the class. Likewise [RetryHinter] carries a retry-after hint
// ([WithRetryAfter], [RetryAfter]) and [Coder] a machine-readable code
// ([WithCode], [CodeOf]).
//
// # Default classification
//
// When no error in the chain declares a class, [ClassOf] recognises common
// standard-library errors; see [ClassOf] for the table. Notably
// context.Canceled is [Permanent]: cancellation is the caller's decision and
// must not be retried, while context.DeadlineExceeded is [Transient].
//
// # Concurrency
//
// Everything in this package is a pure function or an immutable value and
// is safe for concurrent use.
package faults
