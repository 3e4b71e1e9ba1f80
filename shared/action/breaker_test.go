package action_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/retry/retrytest"
)

var errDown = faults.Transientf("payments unavailable")

// newBreaker returns a breaker on a fake clock that records its state
// changes as "from->to".
func newBreaker(t *testing.T, cfg action.BreakerConfig) (*action.CircuitBreaker, *retrytest.FakeClock, func() []string) {
	t.Helper()
	clk := retrytest.NewFakeClock(time.Time{})
	var (
		mu      sync.Mutex
		changes []string
	)
	cfg.Clock = clk
	cfg.OnStateChange = func(name string, from, to action.BreakerState) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, fmt.Sprintf("%s:%v->%v", name, from, to))
	}
	b, err := action.NewCircuitBreaker(cfg)
	if err != nil {
		t.Fatalf("NewCircuitBreaker() error = %v", err)
	}
	return b, clk, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), changes...)
	}
}

// call runs one call through b that returns err, and reports whether fn ran.
func call(t *testing.T, b *action.CircuitBreaker, err error) (error, bool) {
	t.Helper()
	ran := false
	got := b.Do(testContext(t), func(context.Context) error { ran = true; return err })
	return got, ran
}

func TestBreakerTransitions(t *testing.T) {
	b, clk, changes := newBreaker(t, action.BreakerConfig{Name: "payments", FailureThreshold: 3, OpenTimeout: 10 * time.Second, HalfOpenMaxCalls: 2})

	steps := []struct {
		name      string
		advance   time.Duration
		err       error // returned by the call
		wantRan   bool
		wantState action.BreakerState
	}{
		{"failure 1", 0, errDown, true, action.BreakerClosed},
		{"failure 2", 0, errDown, true, action.BreakerClosed},
		{"success resets the count", 0, nil, true, action.BreakerClosed},
		{"failure 1 again", 0, errDown, true, action.BreakerClosed},
		{"failure 2 again", 0, errDown, true, action.BreakerClosed},
		{"failure 3 opens", 0, errDown, true, action.BreakerOpen},
		{"open rejects", time.Second, nil, false, action.BreakerOpen},
		{"still open just before the timeout", 9*time.Second - 1, nil, false, action.BreakerOpen},
		{"half-open: trial 1 succeeds", 1, nil, true, action.BreakerHalfOpen},
		{"trial 2 succeeds: closed", 0, nil, true, action.BreakerClosed},
		{"closed again", 0, errDown, true, action.BreakerClosed},
		{"", 0, errDown, true, action.BreakerClosed},
		{"opens again", 0, errDown, true, action.BreakerOpen},
		{"half-open: trial fails, opens again", 10 * time.Second, errDown, true, action.BreakerOpen},
		{"open rejects after the failed trial", 5 * time.Second, nil, false, action.BreakerOpen},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		_, ran := call(t, b, s.err)
		if ran != s.wantRan {
			t.Errorf("%s: call ran = %v, want %v", s.name, ran, s.wantRan)
		}
		if got := b.State(); got != s.wantState {
			t.Errorf("%s: State() = %v, want %v", s.name, got, s.wantState)
		}
	}
	want := []string{
		"payments:closed->open",
		"payments:open->half-open",
		"payments:half-open->closed",
		"payments:closed->open",
		"payments:open->half-open",
		"payments:half-open->open",
	}
	if diff := cmp.Diff(want, changes()); diff != "" {
		t.Errorf("state changes mismatch (-want +got):\n%s", diff)
	}
}

func TestBreakerOpenError(t *testing.T) {
	b, clk, _ := newBreaker(t, action.BreakerConfig{Name: "payments", FailureThreshold: 1, OpenTimeout: 10 * time.Second})
	call(t, b, errDown)
	clk.Advance(4 * time.Second)
	err, ran := call(t, b, nil)
	if ran {
		t.Errorf("an open breaker ran the call")
	}
	var oe *action.OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("Do() = %v, want *OpenError", err)
	}
	if diff := cmp.Diff(action.OpenError{Breaker: "payments", State: action.BreakerOpen, Remaining: 6 * time.Second}, *oe); diff != "" {
		t.Errorf("OpenError mismatch (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), `circuit breaker "payments" is open; retry in 6s`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, action.ErrCircuitOpen) {
		t.Errorf("errors.Is(%v, ErrCircuitOpen) = false, want true", err)
	}
	if got := faults.ClassOf(err); got != faults.Transient {
		t.Errorf("ClassOf(%v) = %q, want %q", err, got, faults.Transient)
	}
	if d, ok := faults.RetryAfter(err); d != 6*time.Second || !ok {
		t.Errorf("RetryAfter(%v) = %v, %v, want 6s, true", err, d, ok)
	}
}

func TestBreakerHalfOpenLimitsTrialCalls(t *testing.T) {
	b, clk, changes := newBreaker(t, action.BreakerConfig{Name: "db", FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenMaxCalls: 1})
	call(t, b, errDown)
	clk.Advance(time.Second)

	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Do(testContext(t), func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	err, ran := call(t, b, nil)
	var oe *action.OpenError
	if ran || !errors.As(err, &oe) || oe.State != action.BreakerHalfOpen {
		t.Errorf("second call while the trial runs: ran = %v, err = %v, want rejected with a half-open *OpenError", ran, err)
	}
	if got, want := err.Error(), `circuit breaker "db" is half-open and its trial calls are in flight`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if _, ok := faults.RetryAfter(err); ok {
		t.Errorf("half-open rejection has a retry-after hint, want none")
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("trial call = %v, want nil", err)
	}
	if got := b.State(); got != action.BreakerClosed {
		t.Errorf("State() after a successful trial = %v, want closed", got)
	}
	if diff := cmp.Diff([]string{"db:closed->open", "db:open->half-open", "db:half-open->closed"}, changes()); diff != "" {
		t.Errorf("state changes mismatch (-want +got):\n%s", diff)
	}
}

func TestBreakerIgnoresOutcomesFromEarlierStates(t *testing.T) {
	b, clk, _ := newBreaker(t, action.BreakerConfig{FailureThreshold: 1, OpenTimeout: time.Second})
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() { // admitted while closed
		done <- b.Do(testContext(t), func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	call(t, b, errDown) // opens
	clk.Advance(time.Second)
	if got := b.State(); got != action.BreakerHalfOpen {
		t.Fatalf("State() = %v, want half-open", got)
	}
	close(release)
	<-done
	// The slow call was admitted before the breaker opened: its success is
	// not a trial call's success.
	if got := b.State(); got != action.BreakerHalfOpen {
		t.Errorf("State() after a stale success = %v, want half-open", got)
	}
}

func TestBreakerWhichErrorsCount(t *testing.T) {
	tests := []struct {
		name      string
		isFailure func(error) bool
		err       error
		want      action.BreakerState
	}{
		{"transient counts", nil, errDown, action.BreakerOpen},
		{"system counts", nil, faults.Systemf("disk full"), action.BreakerOpen},
		{"unknown counts", nil, errors.New("odd"), action.BreakerOpen},
		{"deadline counts", nil, context.DeadlineExceeded, action.BreakerOpen},
		{"permanent does not", nil, faults.Permanentf("bad input"), action.BreakerClosed},
		{"business does not", nil, faults.Businessf("declined"), action.BreakerClosed},
		{"cancellation does not", nil, context.Canceled, action.BreakerClosed},
		{"custom predicate", func(err error) bool { return faults.IsBusiness(err) }, faults.Businessf("declined"), action.BreakerOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, _ := newBreaker(t, action.BreakerConfig{FailureThreshold: 2, IsFailure: tt.isFailure})
			for range 2 {
				call(t, b, tt.err)
			}
			if got := b.State(); got != tt.want {
				t.Errorf("State() after two %v = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestBreakerPanicIsAFailure(t *testing.T) {
	b, _, _ := newBreaker(t, action.BreakerConfig{FailureThreshold: 1})
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Do() swallowed the panic, want it re-raised")
			}
		}()
		_ = b.Do(testContext(t), func(context.Context) error { panic("boom") })
	}()
	if got := b.State(); got != action.BreakerOpen {
		t.Errorf("State() after a panic = %v, want open", got)
	}
}

func TestBreakerConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  action.BreakerConfig
		want string
	}{
		{action.BreakerConfig{Name: "x", FailureThreshold: -1}, `circuit breaker "x": FailureThreshold must not be negative, got -1`},
		{action.BreakerConfig{Name: "x", OpenTimeout: -time.Second}, `circuit breaker "x": OpenTimeout must not be negative, got -1s`},
		{action.BreakerConfig{Name: "x", HalfOpenMaxCalls: -2}, `circuit breaker "x": HalfOpenMaxCalls must not be negative, got -2`},
	}
	for _, tt := range tests {
		if _, err := action.NewCircuitBreaker(tt.cfg); err == nil || err.Error() != tt.want {
			t.Errorf("NewCircuitBreaker(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
	b, err := action.NewCircuitBreaker(action.BreakerConfig{})
	if err != nil || b.State() != action.BreakerClosed {
		t.Errorf("NewCircuitBreaker(zero config) = %v, %v, want a closed breaker", b, err)
	}
}

func TestBreakerStateString(t *testing.T) {
	for s, want := range map[action.BreakerState]string{
		action.BreakerClosed: "closed", action.BreakerOpen: "open", action.BreakerHalfOpen: "half-open", 7: "BreakerState(7)",
	} {
		if got := s.String(); got != want {
			t.Errorf("BreakerState(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestBreakerConcurrentUse(t *testing.T) {
	b, clk, changes := newBreaker(t, action.BreakerConfig{FailureThreshold: 3, OpenTimeout: time.Second, HalfOpenMaxCalls: 3})
	a := action.Wrap(action.New("x", func(_ context.Context, _ *action.JobInfo, n int) (int, error) {
		if n%3 == 0 {
			return 0, errDown
		}
		return n, nil
	}), action.WithCircuitBreaker(b))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				_, _ = a.Run(context.Background(), &action.JobInfo{}, i+j)
				if j%10 == 0 {
					clk.Advance(100 * time.Millisecond)
				}
				_ = b.State()
			}
		}()
	}
	wg.Wait()
	// The reported changes must form a valid walk through the states.
	prev := "closed"
	for _, c := range changes() {
		from, to, ok := strings.Cut(strings.TrimPrefix(c, ":"), "->")
		if !ok {
			t.Fatalf("bad state change %q", c)
		}
		if from != prev {
			t.Errorf("change %q does not start from the previous state %q", c, prev)
		}
		prev = to
	}
}

func TestRetryPacedByOpenBreaker(t *testing.T) {
	// Retry outside the breaker: the first attempt opens the breaker, the
	// second is rejected at once, and its retry-after hint (the breaker's
	// remaining open time) becomes the delay before the third.
	clk := retrytest.NewFakeClock(time.Time{})
	b, err := action.NewCircuitBreaker(action.BreakerConfig{Name: "payments", FailureThreshold: 1, OpenTimeout: 5 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	charge := action.Wrap(action.New("charge", func(_ context.Context, _ *action.JobInfo, n int) (int, error) {
		if calls++; calls == 1 {
			return 0, errDown
		}
		return n, nil
	}),
		action.WithRetry(retry.Policy{Clock: clk, DelayFunc: func(int) time.Duration { return 0 }}),
		action.WithCircuitBreaker(b),
	)
	rec := &recorder{}
	done := make(chan error, 1)
	go func() {
		_, err := charge.Run(context.Background(), &action.JobInfo{JobID: "j", Status: rec}, 1)
		done <- err
	}()
	d, err := clk.Next(testContext(t))
	if d != 5*time.Second || err != nil {
		t.Errorf("retry slept %v (%v), want the breaker's 5s", d, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if calls != 2 {
		t.Errorf("the action ran %d times, want 2 (the rejected attempt never reached it)", calls)
	}
	var errs []string
	for _, e := range rec.Events() {
		errs = append(errs, e.Error)
	}
	want := []string{"payments unavailable", `circuit breaker "payments" is open; retry in 5s`}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("RETRYING event errors mismatch (-want +got):\n%s", diff)
	}
}
