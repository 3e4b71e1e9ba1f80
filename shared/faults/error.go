package faults

import (
	"fmt"
	"time"
)

// Classifier is implemented by errors that declare their own class. Any
// error in a chain may implement it; see [ClassOf].
type Classifier interface {
	FaultClass() Class
}

// RetryHinter is implemented by errors that know when a retry may succeed,
// such as a rate limit with a Retry-After. See [RetryAfter].
type RetryHinter interface {
	RetryAfter() time.Duration
}

// Coder is implemented by errors that carry a machine-readable code. See
// [CodeOf].
type Coder interface {
	FaultCode() string
}

// Error is a classified error. Build one with [New] or the constructors; the
// fields are exported so that code decoding an error from another process
// can rebuild it.
type Error struct {
	Class          Class         // the class; Unknown defers to the wrapped error
	Code           string        // optional machine-readable code, e.g. "rate_limited"
	Err            error         // the underlying error; its message is Error's message
	RetryAfterHint time.Duration // optional: wait at least this long before retrying
}

var (
	_ Classifier  = (*Error)(nil)
	_ RetryHinter = (*Error)(nil)
	_ Coder       = (*Error)(nil)
)

// Error returns the wrapped error's message unchanged: the class and code
// are data, not text.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Class.String() + " error"
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// FaultClass returns e.Class.
func (e *Error) FaultClass() Class { return e.Class }

// RetryAfter returns e.RetryAfterHint.
func (e *Error) RetryAfter() time.Duration { return e.RetryAfterHint }

// FaultCode returns e.Code.
func (e *Error) FaultCode() string { return e.Code }

// New wraps err with class c. It returns nil if err is nil.
func New(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: c, Err: err}
}

// Transientf formats an error of class [Transient]. %w works as in fmt.Errorf.
func Transientf(format string, args ...any) error {
	return &Error{Class: Transient, Err: fmt.Errorf(format, args...)}
}

// Permanentf formats an error of class [Permanent]. %w works as in fmt.Errorf.
func Permanentf(format string, args ...any) error {
	return &Error{Class: Permanent, Err: fmt.Errorf(format, args...)}
}

// Systemf formats an error of class [System]. %w works as in fmt.Errorf.
func Systemf(format string, args ...any) error {
	return &Error{Class: System, Err: fmt.Errorf(format, args...)}
}

// Businessf formats an error of class [Business]. %w works as in fmt.Errorf.
func Businessf(format string, args ...any) error {
	return &Error{Class: Business, Err: fmt.Errorf(format, args...)}
}

// WithRetryAfter marks err [Transient] with a hint to wait d before the next
// attempt. A d of zero or less means no hint. It returns nil if err is nil.
// If err is itself an *Error, its code is kept.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	d = max(d, 0)
	if e, ok := err.(*Error); ok {
		c := *e
		c.Class, c.RetryAfterHint = Transient, d
		return &c
	}
	return &Error{Class: Transient, Err: err, RetryAfterHint: d}
}

// WithCode attaches a machine-readable code to err, keeping its class. It
// returns nil if err is nil. If err is itself an *Error, its class and hint
// are kept.
func WithCode(err error, code string) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		c := *e
		c.Code = code
		return &c
	}
	return &Error{Class: ClassOf(err), Code: code, Err: err}
}
