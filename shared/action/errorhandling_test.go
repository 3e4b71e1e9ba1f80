package action_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

func TestErrorHandlingRecoversPanic(t *testing.T) {
	logger, logs := newLogger(t)
	counters := &action.Counters{}
	var cleaned error
	boom := action.New("boom", func(context.Context, *action.JobInfo, int) (int, error) {
		var m map[string]int
		m["x"] = 1 // panics: assignment to entry in nil map
		return 0, nil
	})
	a := action.Wrap(boom, action.WithErrorHandling(action.ErrorHandlingConfig{
		Logger:   logger,
		Counters: counters,
		Cleanup:  func(_ context.Context, _ *action.JobInfo, err error) { cleaned = err },
	}))
	_, err := a.Run(testContext(t), &action.JobInfo{JobID: "j", WorkerID: "w", Attempt: 1}, 1)

	var pe *action.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Run() = %v, want a *PanicError", err)
	}
	if got, want := err.Error(), "panic: assignment to entry in nil map"; got != want {
		t.Errorf("Run() error = %q, want %q", got, want)
	}
	if got := faults.ClassOf(err); got != faults.System {
		t.Errorf("ClassOf(panic) = %q, want %q", got, faults.System)
	}
	if cleaned != err {
		t.Errorf("Cleanup got %v, want the panic error", cleaned)
	}
	want := action.CountersSnapshot{Errors: map[faults.Class]uint64{faults.System: 1}, Panics: 1}
	if diff := cmp.Diff(want, counters.Snapshot()); diff != "" {
		t.Errorf("counters mismatch (-want +got):\n%s", diff)
	}
	lines := logs.Lines(t)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1", len(lines))
	}
	l := lines[0]
	for k, v := range map[string]any{"@level": "error", "@message": "action panicked", "job_id": "j", "worker_id": "w",
		"action": "boom", "attempt": 1.0, "error_class": "system", "panic": "assignment to entry in nil map"} {
		if l[k] != v {
			t.Errorf("log field %s = %v, want %v", k, l[k], v)
		}
	}
	if stack, _ := l["stack"].(string); !strings.Contains(stack, "errorhandling_test.go") {
		t.Errorf("log field stack = %q, want the panicking goroutine's stack", stack)
	}
}

func TestPanicErrorUnwrapsErrorValues(t *testing.T) {
	a := action.Wrap(action.New("p", func(context.Context, *action.JobInfo, int) (int, error) {
		panic(fmt.Errorf("wrapped: %w", io.ErrClosedPipe))
	}), action.WithErrorHandling(action.ErrorHandlingConfig{}))
	_, err := a.Run(testContext(t), &action.JobInfo{}, 1)
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("errors.Is(%v, io.ErrClosedPipe) = false, want true", err)
	}
	if got := faults.ClassOf(err); got != faults.System {
		t.Errorf("ClassOf(%v) = %q, want %q", err, got, faults.System)
	}
}

func TestErrorHandlingOrderAndTranslation(t *testing.T) {
	errDomain := faults.Businessf("insufficient funds")
	tests := []struct {
		name    string
		onError func(context.Context, *action.JobInfo, error) error
		wantErr error
		wantOut int
	}{
		{"no handler", nil, errDomain, 9},
		{"translate", func(_ context.Context, _ *action.JobInfo, err error) error {
			return fmt.Errorf("order 7 refused: %w", err)
		}, nil, 9},
		{"swallow", func(context.Context, *action.JobInfo, error) error { return nil }, nil, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			cfg := action.ErrorHandlingConfig{
				Cleanup: func(_ context.Context, ac *action.JobInfo, err error) {
					calls = append(calls, "cleanup "+ac.Action+": "+err.Error())
				},
			}
			if tt.onError != nil {
				cfg.OnError = func(ctx context.Context, ac *action.JobInfo, err error) error {
					calls = append(calls, "onError: "+err.Error())
					return tt.onError(ctx, ac, err)
				}
			}
			a := action.Wrap(action.New("pay", func(context.Context, *action.JobInfo, int) (int, error) {
				return 9, errDomain
			}), action.WithErrorHandling(cfg))
			got, err := a.Run(testContext(t), &action.JobInfo{}, 1)

			want := []string{"cleanup pay: insufficient funds"}
			if tt.onError != nil {
				want = append(want, "onError: insufficient funds")
			}
			if diff := cmp.Diff(want, calls); diff != "" {
				t.Errorf("hook calls mismatch (-want +got):\n%s", diff)
			}
			if got != tt.wantOut {
				t.Errorf("Run() output = %d, want %d", got, tt.wantOut)
			}
			switch tt.name {
			case "no handler":
				if err != errDomain {
					t.Errorf("Run() error = %v, want %v unchanged", err, errDomain)
				}
			case "translate":
				if err == nil || err.Error() != "order 7 refused: insufficient funds" || !faults.IsBusiness(err) {
					t.Errorf("Run() error = %v, want the translated business error", err)
				}
			case "swallow":
				if err != nil {
					t.Errorf("Run() error = %v, want nil", err)
				}
			}
		})
	}
}

func TestErrorHandlingSuccessIsQuiet(t *testing.T) {
	logger, logs := newLogger(t)
	counters := &action.Counters{}
	a := action.Wrap(double, action.WithErrorHandling(action.ErrorHandlingConfig{
		Logger: logger, Counters: counters,
		Cleanup: func(context.Context, *action.JobInfo, error) { t.Errorf("Cleanup called on success") },
		OnError: func(context.Context, *action.JobInfo, error) error { t.Errorf("OnError called on success"); return nil },
	}))
	if got, err := a.Run(testContext(t), &action.JobInfo{}, 2); got != 4 || err != nil {
		t.Errorf("Run(2) = %d, %v, want 4, nil", got, err)
	}
	if n := len(logs.Lines(t)); n != 0 {
		t.Errorf("got %d log lines, want 0", n)
	}
	if got := counters.Snapshot().Total(); got != 0 {
		t.Errorf("counted %d errors, want 0", got)
	}
}

func TestErrorHandlingOutsideRetry(t *testing.T) {
	// Error handling outside retry: one log line, one count and one cleanup
	// for the whole retried call, with the final error.
	logger, logs := newLogger(t)
	counters := &action.Counters{}
	cleanups := 0
	calls := 0
	a := action.Wrap(action.New("flaky", func(context.Context, *action.JobInfo, int) (int, error) {
		calls++
		return 0, faults.Transientf("busy")
	}),
		action.WithErrorHandling(action.ErrorHandlingConfig{Counters: counters,
			Cleanup: func(context.Context, *action.JobInfo, error) { cleanups++ }}),
		action.WithRetry(instant),
	)
	// No Logger in the config: both wrappers log to ac.Logger.
	_, err := a.Run(testContext(t), &action.JobInfo{Logger: logger}, 1)
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("Run() = %v, want *retry.Error", err)
	}
	var levels []string
	for _, l := range logs.Lines(t) {
		levels = append(levels, l["@level"].(string))
	}
	if diff := cmp.Diff([]string{"warn", "warn", "error"}, levels); diff != "" {
		t.Errorf("log levels mismatch (-want +got):\n%s", diff)
	}
	if calls != 3 || cleanups != 1 || counters.Snapshot().Errors[faults.Transient] != 1 {
		t.Errorf("calls = %d, cleanups = %d, transient count = %d, want 3, 1, 1", calls, cleanups, counters.Snapshot().Errors[faults.Transient])
	}
}

func TestCountersByClass(t *testing.T) {
	counters := &action.Counters{}
	errs := []error{faults.Transientf("t"), faults.Transientf("t"), faults.Permanentf("p"), errors.New("u"), faults.Businessf("b")}
	for _, e := range errs {
		a := action.Wrap(action.New("x", func(context.Context, *action.JobInfo, int) (int, error) { return 0, e }),
			action.WithErrorHandling(action.ErrorHandlingConfig{Counters: counters}))
		_, _ = a.Run(testContext(t), &action.JobInfo{}, 1)
	}
	want := action.CountersSnapshot{Errors: map[faults.Class]uint64{
		faults.Transient: 2, faults.Permanent: 1, faults.Unknown: 1, faults.Business: 1,
	}}
	got := counters.Snapshot()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot() mismatch (-want +got):\n%s", diff)
	}
	if got.Total() != 5 {
		t.Errorf("Total() = %d, want 5", got.Total())
	}
	empty := action.CountersSnapshot{Errors: map[faults.Class]uint64{}}
	if diff := cmp.Diff(empty, (&action.Counters{}).Snapshot()); diff != "" {
		t.Errorf("zero Counters Snapshot() mismatch (-want +got):\n%s", diff)
	}
	var none *action.Counters
	if diff := cmp.Diff(empty, none.Snapshot()); diff != "" {
		t.Errorf("nil Counters Snapshot() mismatch (-want +got):\n%s", diff)
	}
}
