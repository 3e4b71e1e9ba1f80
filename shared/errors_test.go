package shared_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

func TestRemoteErrorText(t *testing.T) {
	tests := []struct {
		err  shared.RemoteError
		want string
	}{
		{shared.RemoteError{Message: "disk full"}, "worker: disk full"},
		{shared.RemoteError{Message: "disk full", Code: shared.CodeHandler}, "worker: disk full"},
		{shared.RemoteError{Message: "oops", Code: shared.CodePanic}, "worker: oops (code panic)"},
		{shared.RemoteError{Message: `no handler for "x"`, Code: shared.CodeUnknownMessage}, `worker: no handler for "x" (code unknown_message)`},
		{shared.RemoteError{Message: "quota", Code: "rate_limited", Type: "*main.QuotaError"}, "worker: quota (code rate_limited)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("(%+v).Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestRemoteErrorIs(t *testing.T) {
	tests := []struct {
		code                       string
		wantCanceled, wantDeadline bool
	}{
		{shared.CodeCanceled, true, false},
		{shared.CodeDeadline, false, true},
		{shared.CodeHandler, false, false},
		{"", false, false},
		{shared.CodePanic, false, false},
	}
	for _, tt := range tests {
		// Wrapped, as host.Call returns it.
		err := fmt.Errorf("call %q on worker %q: %w", "m", "w", &shared.RemoteError{Message: "x", Code: tt.code})
		if got := errors.Is(err, context.Canceled); got != tt.wantCanceled {
			t.Errorf("errors.Is(code %q, context.Canceled) = %v, want %v", tt.code, got, tt.wantCanceled)
		}
		if got := errors.Is(err, context.DeadlineExceeded); got != tt.wantDeadline {
			t.Errorf("errors.Is(code %q, context.DeadlineExceeded) = %v, want %v", tt.code, got, tt.wantDeadline)
		}
		if errors.Is(err, errors.New("x")) {
			t.Errorf("errors.Is(code %q, unrelated) = true, want false", tt.code)
		}
		var re *shared.RemoteError
		if !errors.As(err, &re) || re.Code != tt.code {
			t.Errorf("errors.As(%v, *RemoteError) = %v, want the error with code %q", err, re, tt.code)
		}
	}
}

func TestRemoteErrorFaults(t *testing.T) {
	tests := []struct {
		name          string
		err           *shared.RemoteError
		wantClass     faults.Class
		wantAfter     time.Duration
		wantHasAfter  bool
		wantFaultCode string
	}{
		{"transient with hint", &shared.RemoteError{Message: "busy", Code: "busy", Class: "transient", RetryAfterMillis: 1500},
			faults.Transient, 1500 * time.Millisecond, true, "busy"},
		{"business", &shared.RemoteError{Message: "rule", Code: shared.CodeHandler, Class: "business"},
			faults.Business, 0, false, shared.CodeHandler},
		{"unclassified", &shared.RemoteError{Message: "?"}, faults.Unknown, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("call: %w", tt.err)
			if got := tt.err.FaultClass(); got != tt.wantClass {
				t.Errorf("FaultClass() = %q, want %q", got, tt.wantClass)
			}
			if got := faults.ClassOf(err); got != tt.wantClass {
				t.Errorf("faults.ClassOf(%v) = %q, want %q", err, got, tt.wantClass)
			}
			if got := tt.err.RetryAfter(); got != tt.wantAfter {
				t.Errorf("RetryAfter() = %v, want %v", got, tt.wantAfter)
			}
			if got, ok := faults.RetryAfter(err); got != tt.wantAfter || ok != tt.wantHasAfter {
				t.Errorf("faults.RetryAfter(%v) = %v, %v, want %v, %v", err, got, ok, tt.wantAfter, tt.wantHasAfter)
			}
			if got := faults.CodeOf(err); got != tt.wantFaultCode {
				t.Errorf("faults.CodeOf(%v) = %q, want %q", err, got, tt.wantFaultCode)
			}
			if got := tt.err.FaultCode(); got != tt.err.Code {
				t.Errorf("FaultCode() = %q, want %q", got, tt.err.Code)
			}
		})
	}
}

func TestSentinelErrorsDiffer(t *testing.T) {
	errs := []error{shared.ErrTerminatorInFrame, shared.ErrFrameTooLarge, shared.ErrDuplicateTxID}
	for i, a := range errs {
		for j, b := range errs {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = true, want false", a, b)
			}
		}
	}
}
