package action_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/retry/retrytest"
)

var instant = retry.Policy{DelayFunc: func(int) time.Duration { return 0 }}

func TestWithRetryAttempts(t *testing.T) {
	var attempts []int
	var onRetry []int
	p := instant
	p.MaxAttempts = 4
	p.OnRetry = func(attempt int, _ error, _ time.Duration) { onRetry = append(onRetry, attempt) }
	a := action.Wrap(action.New("flaky", func(_ context.Context, ac *action.JobInfo, n int) (int, error) {
		attempts = append(attempts, ac.Attempt)
		if ac.Attempt < 3 {
			return 0, faults.Transientf("busy")
		}
		return n, nil
	}), action.WithRetry(p))
	logger, logs := newLogger(t)
	ac := &action.JobInfo{JobID: "j", Attempt: 7, Logger: logger}
	if _, err := a.Run(testContext(t), ac, 1); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, attempts); diff != "" {
		t.Errorf("ac.Attempt per try mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2}, onRetry); diff != "" {
		t.Errorf("policy OnRetry calls mismatch (-want +got):\n%s", diff)
	}
	if ac.Attempt != 7 {
		t.Errorf("after Run ac.Attempt = %d, want it restored to 7", ac.Attempt)
	}
	lines := logs.Lines(t)
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2 (one per retry)", len(lines))
	}
	for i, l := range lines {
		want := map[string]any{"@level": "warn", "@message": "action failed, retrying", "job_id": "j", "action": "flaky",
			"attempt": float64(i + 1), "error_class": "transient", "error": "busy"}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("log line %d field %s = %v, want %v", i, k, l[k], v)
			}
		}
	}
}

func TestWithRetryGivesUp(t *testing.T) {
	calls := 0
	a := action.Wrap(action.New("down", func(context.Context, *action.JobInfo, int) (int, error) {
		calls++
		return 0, faults.Transientf("unavailable %d", calls)
	}), action.WithRetry(instant))
	_, err := a.Run(testContext(t), &action.JobInfo{}, 1)
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("Run() = %v, want a *retry.Error", err)
	}
	if re.Attempts != 3 || len(re.Errors()) != 3 || calls != 3 {
		t.Errorf("Run() gave %d attempts, %d errors, %d calls, want 3 each", re.Attempts, len(re.Errors()), calls)
	}
	if got, want := err.Error(), "retry: gave up after 3 attempts: unavailable 3"; got != want {
		t.Errorf("Run() error = %q, want %q", got, want)
	}
}

func TestWithRetryInvalidPolicy(t *testing.T) {
	a := action.Wrap(double, action.WithRetry(retry.Policy{MaxAttempts: -1}))
	if _, err := a.Run(testContext(t), &action.JobInfo{}, 1); err == nil {
		t.Errorf("Run() with an invalid policy = nil, want the validation error")
	}
}

func TestWithRetryWaitsWithClock(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	calls := 0
	a := action.Wrap(action.New("slow", func(context.Context, *action.JobInfo, int) (int, error) {
		if calls++; calls == 1 {
			return 0, faults.Transientf("busy")
		}
		return 5, nil
	}), action.WithRetry(retry.Policy{Clock: clk, NoJitter: true, BaseDelay: 2 * time.Second}))
	done := make(chan error, 1)
	go func() {
		_, err := a.Run(testContext(t), &action.JobInfo{}, 1)
		done <- err
	}()
	d, err := clk.Next(testContext(t))
	if err != nil || d != 2*time.Second {
		t.Errorf("Next() = %v, %v, want 2s, nil", d, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}
