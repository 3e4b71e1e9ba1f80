package retry

import (
	"fmt"

	"github.com/hashicorp/go-multierror"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// Error is what Do returns when it gives up. errors.Is and errors.As see
// through it to Last and Stopped (Unwrap returns both, Stopped first), and
// so does faults.ClassOf: the class is Last's, except that a cancelled
// context makes it permanent and an expired one transient (see FaultClass).
type Error struct {
	// Attempts is how many times fn was called.
	Attempts int
	// Last is the error of the last call; nil if fn was never called.
	Last error
	// All holds every call's error, in order; All.Errors[len-1] == Last.
	All *multierror.Error
	// Stopped is why Do stopped early, if it did: the context's error
	// (context.Canceled or context.DeadlineExceeded) or a schedule error
	// (wrapping ErrNegativeDelay or ErrBadRand). It is nil when the
	// attempts ran out or Last was not retryable.
	Stopped error

	// notRetryable records that Do stopped because Last was not
	// retryable, for the message.
	notRetryable bool
}

var _ faults.Classifier = (*Error)(nil)

// Error names the attempt count and the last error, e.g.
//
//	retry: gave up after 3 attempts: dial tcp: connection refused
//	retry: not retrying permanent error after attempt 1: bad input
//	retry: stopped after 2 attempts: context canceled; last error: timeout
func (e *Error) Error() string {
	switch {
	case e.Stopped != nil && e.Last == nil:
		return fmt.Sprintf("retry: stopped before the first attempt: %v", e.Stopped)
	case e.Stopped != nil:
		return fmt.Sprintf("retry: stopped after %s: %v; last error: %v", plural(e.Attempts), e.Stopped, e.Last)
	case e.notRetryable:
		return fmt.Sprintf("retry: not retrying %v error after attempt %d: %v", faults.ClassOf(e.Last), e.Attempts, e.Last)
	default:
		return fmt.Sprintf("retry: gave up after %s: %v", plural(e.Attempts), e.Last)
	}
}

// FaultClass returns the class of Stopped when it has one (a cancelled
// context is permanent, an expired one transient), so that an outer loop
// does not retry a cancelled job; otherwise Unknown, which makes
// faults.ClassOf use Last's class.
func (e *Error) FaultClass() faults.Class {
	if e.Stopped == nil {
		return faults.Unknown
	}
	return faults.ClassOf(e.Stopped)
}

// Unwrap returns Stopped (when set) and Last (when set), in that order.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Stopped != nil {
		errs = append(errs, e.Stopped)
	}
	if e.Last != nil {
		errs = append(errs, e.Last)
	}
	return errs
}

// Errors returns every call's error, in order.
func (e *Error) Errors() []error {
	if e.All == nil {
		return nil
	}
	return e.All.Errors
}

func plural(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
