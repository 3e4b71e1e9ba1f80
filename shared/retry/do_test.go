package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/retry/retrytest"
)

// testContext returns a context that ends when the test does, or after a
// generous bound so that a bug hangs no longer than that.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startDo runs retry.Do in a goroutine and returns its result channel and a
// cancel func for its context. Cleanup cancels and waits for the goroutine.
func startDo(t *testing.T, p retry.Policy, fn func(context.Context, int) error) (<-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		done <- retry.Do(ctx, p, fn)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return done, cancel
}

// failing returns an fn that fails with errs[i] on call i+1 (repeating the
// last error) and records the attempt numbers it was called with.
func failing(errs ...error) (fn func(context.Context, int) error, calls func() []int) {
	var (
		mu  sync.Mutex
		got []int
	)
	fn = func(_ context.Context, attempt int) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, attempt)
		return errs[min(len(got), len(errs))-1]
	}
	calls = func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), got...)
	}
	return fn, calls
}

func TestDoScheduleWithFakeClock(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	p := retry.Policy{MaxAttempts: 5, MaxDelay: 5 * time.Second, NoJitter: true, Clock: clk}
	fn, calls := failing(faults.Transientf("unavailable"))
	done, _ := startDo(t, p, fn)

	ctx := testContext(t)
	var slept []time.Duration
	for range 4 {
		d, err := clk.Next(ctx)
		if err != nil {
			t.Fatalf("Next() error = %v", err)
		}
		slept = append(slept, d)
	}
	err := <-done

	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second}
	if diff := cmp.Diff(want, slept); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5}, calls()); diff != "" {
		t.Errorf("attempts mismatch (-want +got):\n%s", diff)
	}
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("Do() = %v, want a *retry.Error", err)
	}
	if re.Attempts != 5 || len(re.Errors()) != 5 {
		t.Errorf("Do() error has Attempts %d and %d errors, want 5 and 5", re.Attempts, len(re.Errors()))
	}
	if got, want := err.Error(), "retry: gave up after 5 attempts: unavailable"; got != want {
		t.Errorf("Do() error = %q, want %q", got, want)
	}
	if got := clk.Now().Sub(retrytest.Epoch); got != 12*time.Second {
		t.Errorf("clock moved %v, want 12s", got)
	}
}

func TestDoJitteredSchedule(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	p := retry.Policy{MaxAttempts: 4, Clock: clk, Rand: retrytest.Sequence(0.5, 1, 0.25)}
	fn, _ := failing(errors.New("unclassified"))
	done, _ := startDo(t, p, fn)
	ctx := testContext(t)
	var slept []time.Duration
	for range 3 {
		d, err := clk.Next(ctx)
		if err != nil {
			t.Fatalf("Next() error = %v", err)
		}
		slept = append(slept, d)
	}
	<-done
	want := []time.Duration{500 * time.Millisecond, 2 * time.Second, time.Second}
	if diff := cmp.Diff(want, slept); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
}

func TestDoSucceeds(t *testing.T) {
	fn, calls := failing(faults.Transientf("1"), faults.Transientf("2"), nil)
	p := retry.Policy{DelayFunc: func(int) time.Duration { return 0 }, MaxAttempts: 5}
	if err := retry.Do(testContext(t), p, fn); err != nil {
		t.Fatalf("Do() = %v, want nil", err)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, calls()); diff != "" {
		t.Errorf("attempts mismatch (-want +got):\n%s", diff)
	}
}

func TestDoWhichErrorsAreRetried(t *testing.T) {
	instant := func(int) time.Duration { return 0 }
	tests := []struct {
		name      string
		p         retry.Policy
		err       error
		wantCalls int
	}{
		{"transient", retry.Policy{}, faults.Transientf("x"), 3},
		{"system", retry.Policy{}, faults.Systemf("x"), 3},
		{"unknown", retry.Policy{}, errors.New("x"), 3},
		{"permanent", retry.Policy{}, faults.Permanentf("x"), 1},
		{"business", retry.Policy{}, faults.Businessf("x"), 1},
		{"wrapped permanent", retry.Policy{}, fmt.Errorf("decode: %w", faults.Permanentf("x")), 1},
		{"context.Canceled from a call", retry.Policy{}, fmt.Errorf("inner: %w", context.Canceled), 1},
		{"one attempt", retry.Policy{MaxAttempts: 1}, faults.Transientf("x"), 1},
		{"only transient", retry.Policy{RetryableClasses: []faults.Class{faults.Transient}}, errors.New("x"), 1},
		{"business retried when listed", retry.Policy{RetryableClasses: []faults.Class{faults.Business}}, faults.Businessf("x"), 3},
		{"predicate overrides classes", retry.Policy{Retryable: func(error) bool { return true }}, faults.Permanentf("x"), 3},
		{"predicate says no", retry.Policy{Retryable: func(error) bool { return false }}, faults.Transientf("x"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.DelayFunc = instant
			fn, calls := failing(tt.err)
			err := retry.Do(testContext(t), tt.p, fn)
			if got := len(calls()); got != tt.wantCalls {
				t.Errorf("Do() called fn %d times, want %d", got, tt.wantCalls)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.err)
			}
		})
	}
}

func TestDoPermanentErrorMessage(t *testing.T) {
	err := retry.Do(testContext(t), retry.Policy{}, func(context.Context, int) error {
		return faults.Permanentf("order 7: no items")
	})
	if got, want := err.Error(), "retry: not retrying permanent error after attempt 1: order 7: no items"; got != want {
		t.Errorf("Do() error = %q, want %q", got, want)
	}
	if got := faults.ClassOf(err); got != faults.Permanent {
		t.Errorf("ClassOf(%v) = %q, want %q", err, got, faults.Permanent)
	}
}

func TestDoHonoursRetryAfter(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	p := retry.Policy{Clock: clk, MaxDelay: 10 * time.Second, Rand: retrytest.Sequence(0)}
	fn, calls := failing(faults.WithRetryAfter(errors.New("rate limited"), 4*time.Second),
		faults.WithRetryAfter(errors.New("rate limited"), time.Minute), nil)
	done, _ := startDo(t, p, fn)
	ctx := testContext(t)
	var slept []time.Duration
	for range 2 {
		d, err := clk.Next(ctx)
		if err != nil {
			t.Fatalf("Next() error = %v", err)
		}
		slept = append(slept, d)
	}
	if err := <-done; err != nil {
		t.Fatalf("Do() = %v, want nil", err)
	}
	if diff := cmp.Diff([]time.Duration{4 * time.Second, 10 * time.Second}, slept); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
	if got := len(calls()); got != 3 {
		t.Errorf("Do() called fn %d times, want 3", got)
	}
}

func TestDoCancelMidSleep(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	p := retry.Policy{Clock: clk, NoJitter: true, MaxAttempts: 5}
	fn, calls := failing(faults.Transientf("unavailable"))
	done, cancel := startDo(t, p, fn)
	if err := clk.BlockUntil(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := <-done // returns without the clock moving

	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false, want true", err)
	}
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("Do() = %v, want a *retry.Error", err)
	}
	if re.Attempts != 1 || !faults.IsTransient(re.Last) || !errors.Is(re.Stopped, context.Canceled) {
		t.Errorf("Do() error = %+v, want Attempts 1, a transient Last and Stopped context.Canceled", re)
	}
	if got, want := err.Error(), "retry: stopped after 1 attempt: context canceled; last error: unavailable"; got != want {
		t.Errorf("Do() error = %q, want %q", got, want)
	}
	if got := len(calls()); got != 1 {
		t.Errorf("Do() called fn %d times, want 1", got)
	}
	// Cancellation is not something to retry.
	if got := faults.ClassOf(err); got != faults.Permanent {
		t.Errorf("ClassOf(%v) = %q, want %q", err, got, faults.Permanent)
	}
}

func TestDoCancelledBeforeFirstAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := retry.Do(ctx, retry.Policy{}, func(context.Context, int) error { called = true; return nil })
	if called {
		t.Errorf("Do() called fn with a cancelled context")
	}
	if got, want := err.Error(), "retry: stopped before the first attempt: context canceled"; got != want {
		t.Errorf("Do() error = %q, want %q", got, want)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false, want true", err)
	}
}

func TestDoCallCancelsContext(t *testing.T) {
	// The call itself sees the context end: Do stops without a further sleep.
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	clk := retrytest.NewFakeClock(time.Time{})
	err := retry.Do(ctx, retry.Policy{Clock: clk}, func(context.Context, int) error {
		cancel()
		return faults.Transientf("interrupted")
	})
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Do() = %v, want a *retry.Error after 1 attempt wrapping context.Canceled", err)
	}
	if got := clk.Sleeps(); len(got) != 0 {
		t.Errorf("Do() slept %v, want no sleeps", got)
	}
}

func TestDoDeadlineMidSleepWithRealClock(t *testing.T) {
	// A real clock and a long delay: the deadline ends the sleep promptly.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p := retry.Policy{BaseDelay: time.Hour, NoJitter: true}
	err := retry.Do(ctx, p, func(context.Context, int) error { return faults.Transientf("down") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do() = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

func TestDoDelayFuncError(t *testing.T) {
	fn, calls := failing(faults.Transientf("down"))
	p := retry.Policy{DelayFunc: func(n int) time.Duration { return time.Duration(n) - 1 }}
	err := retry.Do(testContext(t), p, fn)
	if !errors.Is(err, retry.ErrNegativeDelay) {
		t.Errorf("errors.Is(%v, ErrNegativeDelay) = false, want true", err)
	}
	if want := "delay function must return a non-negative duration"; !strings.Contains(err.Error(), want) {
		t.Errorf("Do() error = %q, want it to contain %q", err, want)
	}
	if got, want := err.Error(), "retry: stopped after 1 attempt: retry: DelayFunc(0) = -1ns: delay function must return a non-negative duration; last error: down"; got != want {
		t.Errorf("Do() error = %q, want %q", got, want)
	}
	if got := len(calls()); got != 1 {
		t.Errorf("Do() called fn %d times, want 1", got)
	}
}

func TestDoInvalidPolicy(t *testing.T) {
	called := false
	err := retry.Do(testContext(t), retry.Policy{MaxAttempts: -2}, func(context.Context, int) error { called = true; return nil })
	if err == nil || called {
		t.Fatalf("Do(invalid policy) = %v and called fn = %v, want an error and no call", err, called)
	}
	if want := "MaxAttempts must not be negative"; !strings.Contains(err.Error(), want) {
		t.Errorf("Do() error = %q, want it to contain %q", err, want)
	}
}

func TestDoOnRetry(t *testing.T) {
	type retryCall struct {
		Attempt int
		Err     string
		Delay   time.Duration
	}
	var got []retryCall
	p := retry.Policy{
		MaxAttempts: 3,
		DelayFunc:   func(n int) time.Duration { return time.Duration(n) * time.Nanosecond },
		OnRetry: func(attempt int, err error, d time.Duration) {
			got = append(got, retryCall{attempt, err.Error(), d})
		},
	}
	fn, _ := failing(errors.New("a"), errors.New("b"), errors.New("c"))
	err := retry.Do(testContext(t), p, fn)
	want := []retryCall{{1, "a", 0}, {2, "b", time.Nanosecond}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnRetry calls mismatch (-want +got):\n%s", diff)
	}
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("Do() = %v, want *retry.Error", err)
	}
	var msgs []string
	for _, e := range re.Errors() {
		msgs = append(msgs, e.Error())
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, msgs); diff != "" {
		t.Errorf("Error.Errors() mismatch (-want +got):\n%s", diff)
	}
	if re.All.Len() != 3 || re.Last.Error() != "c" {
		t.Errorf("Error.All has %d errors and Last %v, want 3 and c", re.All.Len(), re.Last)
	}
}

func TestDoValue(t *testing.T) {
	p := retry.Policy{DelayFunc: func(int) time.Duration { return 0 }}
	got, err := retry.DoValue(testContext(t), p, func(_ context.Context, attempt int) (string, error) {
		if attempt < 2 {
			return "partial", faults.Transientf("try again")
		}
		return fmt.Sprintf("done on %d", attempt), nil
	})
	if got != "done on 2" || err != nil {
		t.Errorf("DoValue() = %q, %v, want %q, nil", got, err, "done on 2")
	}
	got, err = retry.DoValue(testContext(t), p, func(context.Context, int) (string, error) {
		return "partial", faults.Permanentf("no")
	})
	if got != "" || err == nil {
		t.Errorf("DoValue() = %q, %v, want the zero value and an error", got, err)
	}
}

func TestErrorBuiltByHand(t *testing.T) {
	// An Error built by hand (for example in another package's tests) works.
	e := &retry.Error{Attempts: 2, Last: faults.Transientf("x")}
	if got := e.Errors(); got != nil {
		t.Errorf("Errors() = %v, want nil", got)
	}
	if got, want := e.Error(), "retry: gave up after 2 attempts: x"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := faults.ClassOf(e); got != faults.Transient {
		t.Errorf("ClassOf(%v) = %q, want %q", e, got, faults.Transient)
	}
}

func TestErrorClassWhenStopped(t *testing.T) {
	tests := []struct {
		stopped error
		want    faults.Class
	}{
		{nil, faults.Transient},
		{context.Canceled, faults.Permanent},
		{context.DeadlineExceeded, faults.Transient},
		{fmt.Errorf("x: %w", retry.ErrNegativeDelay), faults.Transient},
	}
	for _, tt := range tests {
		e := &retry.Error{Attempts: 1, Last: faults.Transientf("x"), Stopped: tt.stopped}
		if got := faults.ClassOf(e); got != tt.want {
			t.Errorf("ClassOf(Error{Stopped: %v}) = %q, want %q", tt.stopped, got, tt.want)
		}
	}
}
