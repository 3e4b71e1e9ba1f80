// Package faults classifies errors so that retry loops, circuit breakers,
// logs and the host can decide what to do with a failure without comparing
// error strings.
//
// # Classes
//
// Every error has one [Class]:
//
//	class      meaning                                                          retried by default (shared/retry)
//	transient  timeouts, refused or reset connections, a dependency
//	           briefly unavailable                                              yes
//	system     resource or configuration trouble: disk full, too many open
//	           files, out of memory, a recovered panic                          yes
//	unknown    nothing in the error says                                        yes
//	permanent  invalid input, a missing file or dependency, a cancelled call    no
//	business   a domain rule said no ("insufficient funds"): the call worked,
//	           the answer was no                                                no
//
// The class values ([Transient], [Permanent], [System], [Business], and
// [Unknown], which is "") are stable: they travel between processes (the
// class field of a worker's error reply, see handshake/PROTOCOL.md) and
// appear in status events. A system error may succeed once the operator
// fixes the cause; retrying a permanent one cannot help.
//
// # Declaring a class
//
// Wrap an error with [New](class, err), or build one with [Transientf],
// [Permanentf], [Systemf] or [Businessf] (%w works). Any error type,
// including one defined in another package such as the error a worker
// returns across the process boundary, declares its class by implementing
// [Classifier] (a FaultClass() Class method); [ClassOf] finds it with the
// same chain walk as errors.As, so wrapping with fmt.Errorf("...: %w", err)
// keeps the class, and so does the *shared.RemoteError that carries a
// worker's failure to the host.
//
// [WithRetryAfter](err, d) adds a retry-after hint and makes the error
// transient ([RetryHinter], read with [RetryAfter]); package retry waits
// exactly that long (capped by its MaxDelay). [WithCode](err, code) adds a
// machine-readable code ([Coder], read with [CodeOf]) and keeps the class.
//
// # Default classification
//
// When no error in the chain declares a class, [ClassOf] recognises common
// standard-library errors, in this order:
//
//	context.Canceled                                      permanent (the caller gave up; never retried)
//	context.DeadlineExceeded, os.ErrDeadlineExceeded,
//	  any error whose Timeout() is true (net.Error)       transient
//	ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE,
//	  io.ErrUnexpectedEOF                                 transient
//	ENOSPC, EMFILE, ENFILE, ENOMEM                        system
//	os.ErrNotExist, os.ErrPermission, strconv.ErrSyntax,
//	  strconv.ErrRange, *json.SyntaxError,
//	  *json.UnmarshalTypeError, *json.InvalidUnmarshalError  permanent
//	anything else                                         unknown
//
// Notably context.Canceled is [Permanent]: cancellation is the caller's
// decision and must not be retried, while context.DeadlineExceeded is
// [Transient].
//
// # Testing a class
//
// Use [Is](err, class) or [IsTransient], [IsPermanent], [IsSystem],
// [IsBusiness]; never compare error strings. [ParseClass] reads a class
// from text (a status event's errorClass, a config file).
//
// # Concurrency
//
// Everything in this package is a pure function or an immutable value and
// is safe for concurrent use.
package faults
