package action

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// ErrorHandlingConfig configures WithErrorHandling. The zero value logs to
// ac.Logger and does nothing else.
type ErrorHandlingConfig struct {
	// Logger receives one Error-level line per failure, with job_id,
	// worker_id, action, attempt, error_class and error (and panic and
	// stack for a panic). nil means ac.Logger; if that is nil too, nothing
	// is logged.
	Logger hclog.Logger

	// OnError, if set, is called with each failure after it is logged and
	// counted and after Cleanup. Its result replaces the error: return it
	// unchanged, translate it (wrap with %w to keep the cause), or return
	// nil to swallow it, in which case the step's output (nil after a
	// panic, so Out's zero value) is returned as a success.
	OnError func(ctx context.Context, ac *JobInfo, err error) error

	// Cleanup, if set, is called with each failure, before OnError, to
	// release what the failed step left behind.
	Cleanup func(ctx context.Context, ac *JobInfo, err error)

	// Counters, if set, counts failures by faults class, and panics.
	Counters *Counters
}

// PanicError is the error WithErrorHandling returns for a recovered panic.
// Its class is faults.System. Its message holds the panic value; the stack
// is logged and kept in Stack.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

var _ faults.Classifier = (*PanicError)(nil)

// Error returns "panic: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// FaultClass returns faults.System: a panic is a bug or broken environment.
func (e *PanicError) FaultClass() faults.Class { return faults.System }

// Unwrap returns the panic value if it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// WithErrorHandling recovers panics in the wrapped step (a panic becomes a
// *PanicError of class System), and for every failure, in this order: logs
// it, counts it, calls Cleanup, then OnError. Place it outside WithRetry so
// that a retried call is handled once, with its final error; see Wrap.
func WithErrorHandling(cfg ErrorHandlingConfig) StepMiddleware {
	return func(next Step) Step {
		return func(ctx context.Context, ac *JobInfo, in any) (out any, err error) {
			out, err = callRecovering(ctx, next, ac, in)
			if err == nil {
				return out, nil
			}
			class := faults.ClassOf(err)
			var pe *PanicError
			isPanic := errors.As(err, &pe)
			fields := append(ac.logFields(), "error_class", class.String(), "error", err)
			if isPanic {
				ac.logger(cfg.Logger).Error("action panicked", append(fields, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))...)
			} else {
				ac.logger(cfg.Logger).Error("action failed", fields...)
			}
			cfg.Counters.add(class, isPanic)
			if cfg.Cleanup != nil {
				cfg.Cleanup(ctx, ac, err)
			}
			if cfg.OnError != nil {
				err = cfg.OnError(ctx, ac, err)
			}
			return out, err
		}
	}
}

// callRecovering calls s, turning a panic into a *PanicError.
func callRecovering(ctx context.Context, s Step, ac *JobInfo, in any) (out any, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return s(ctx, ac, in)
}
