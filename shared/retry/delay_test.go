package retry_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/retry/retrytest"
)

var errFlaky = errors.New("flaky")

// schedule returns Delay(n, err) for n in [0, count).
func schedule(t *testing.T, p retry.Policy, err error, count int) []time.Duration {
	t.Helper()
	var got []time.Duration
	for n := range count {
		d, derr := p.Delay(n, err)
		if derr != nil {
			t.Fatalf("Delay(%d, %v) error = %v, want nil", n, err, derr)
		}
		got = append(got, d)
	}
	return got
}

func TestDelaySchedule(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		p    retry.Policy
		err  error
		want []time.Duration
	}{
		{"defaults without jitter", retry.Policy{NoJitter: true}, errFlaky,
			[]time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s}},
		{"capped", retry.Policy{NoJitter: true, BaseDelay: 100 * time.Millisecond, MaxDelay: 500 * time.Millisecond}, errFlaky,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}},
		{"base above max", retry.Policy{NoJitter: true, BaseDelay: 10 * s, MaxDelay: 5 * s}, errFlaky,
			[]time.Duration{5 * s, 5 * s}},
		{"jitter top of window", retry.Policy{Rand: retrytest.Sequence(1)}, errFlaky,
			[]time.Duration{1 * s, 2 * s, 4 * s}},
		{"jitter bottom of window", retry.Policy{Rand: retrytest.Sequence(0)}, errFlaky,
			[]time.Duration{0, 0, 0}},
		{"jitter scales the window", retry.Policy{Rand: retrytest.Sequence(0.5, 0.25, 0.75, 0.1)}, errFlaky,
			[]time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 3 * s, 800 * time.Millisecond}},
		{"retry-after hint, no jitter", retry.Policy{Rand: retrytest.Sequence(0)}, faults.WithRetryAfter(errFlaky, 7*s),
			[]time.Duration{7 * s, 7 * s}},
		{"retry-after hint capped", retry.Policy{MaxDelay: 5 * s}, faults.WithRetryAfter(errFlaky, time.Minute),
			[]time.Duration{5 * s}},
		{"delay func", retry.Policy{DelayFunc: func(n int) time.Duration { return time.Duration(n+1) * 300 * time.Millisecond }, MaxDelay: time.Second}, errFlaky,
			[]time.Duration{300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond, s, s}},
		{"delay func zero", retry.Policy{DelayFunc: func(int) time.Duration { return 0 }}, errFlaky,
			[]time.Duration{0, 0}},
		{"delay func huge is capped", retry.Policy{DelayFunc: func(int) time.Duration { return math.MaxInt64 }}, errFlaky,
			[]time.Duration{30 * s}},
		{"hint beats delay func", retry.Policy{DelayFunc: func(int) time.Duration { return s }}, faults.WithRetryAfter(errFlaky, 3*s),
			[]time.Duration{3 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schedule(t, tt.p, tt.err, len(tt.want))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Delay(0..%d) mismatch (-want +got):\n%s", len(tt.want)-1, diff)
			}
		})
	}
}

// TestDelayNoOverflow: base·2^n past math.MaxInt64 is capped at MaxDelay,
// never wrapped to a negative or small duration.
func TestDelayNoOverflow(t *testing.T) {
	const maxD = time.Duration(math.MaxInt64)
	p := retry.Policy{NoJitter: true, BaseDelay: time.Hour, MaxDelay: maxD}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, time.Hour},
		{20, time.Hour << 20},
		{21, time.Hour << 21}, // the largest that fits: 7.6e18 ns
		{22, maxD},            // time.Hour<<22 would wrap negative
		{30, maxD},
		{40, maxD},
		{62, maxD},
		{63, maxD},
		{64, maxD},
		{1000, maxD},
		{math.MaxInt, maxD},
	}
	for _, tt := range tests {
		if d, err := p.Delay(tt.n, errFlaky); err != nil || d != tt.want {
			t.Errorf("Delay(%d) = %v, %v, want %v, nil", tt.n, d, err, tt.want)
		}
	}
	// With jitter at the top of the window the delay is the whole window,
	// even where float64(window) rounds above math.MaxInt64.
	p.NoJitter, p.Rand = false, retrytest.Sequence(1)
	if d, err := p.Delay(100, errFlaky); err != nil || d != maxD {
		t.Errorf("Delay(100) with Rand 1 = %v, %v, want %v, nil", d, err, maxD)
	}
	// A MaxDelay below the overflow point caps just the same.
	p = retry.Policy{NoJitter: true, BaseDelay: time.Hour, MaxDelay: 48 * time.Hour}
	for _, n := range []int{6, 22, 64, math.MaxInt} {
		if d, err := p.Delay(n, errFlaky); err != nil || d != 48*time.Hour {
			t.Errorf("Delay(%d) with MaxDelay 48h = %v, %v, want 48h0m0s, nil", n, d, err)
		}
	}
}

func TestJitterBounds(t *testing.T) {
	// The default random source: every delay lies in [0, window] and the
	// samples spread over the window rather than clustering at one end.
	p := retry.Policy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for n, window := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		var low, high int
		const samples = 2000
		for range samples {
			d, err := p.Delay(n, errFlaky)
			if err != nil {
				t.Fatalf("Delay(%d) error = %v", n, err)
			}
			if d < 0 || d > window {
				t.Fatalf("Delay(%d) = %v, want within [0, %v]", n, d, window)
			}
			if d < window/4 {
				low++
			}
			if d > window*3/4 {
				high++
			}
		}
		// Each quarter should hold about 500 of 2000; 300 is far outside
		// any plausible random deviation.
		if low < 300 || high < 300 {
			t.Errorf("Delay(%d): %d samples in the lowest quarter and %d in the highest of %d, want about %d each", n, low, high, samples, samples/4)
		}
	}
}

func TestDelayErrors(t *testing.T) {
	overflowed := time.Duration(math.MaxInt64)
	overflowed += time.Duration(len("x")) // wraps negative at run time
	tests := []struct {
		name    string
		p       retry.Policy
		n       int
		wantIs  error
		wantMsg string
	}{
		{"negative delay func", retry.Policy{DelayFunc: func(int) time.Duration { return -time.Second }}, 2, retry.ErrNegativeDelay,
			"retry: DelayFunc(2) = -1s: delay function must return a non-negative duration"},
		{"overflowed delay func", retry.Policy{DelayFunc: func(int) time.Duration { return overflowed }}, 0, retry.ErrNegativeDelay,
			"retry: DelayFunc(0) = -2562047h47m16.854775808s: delay function must return a non-negative duration"},
		{"shift overflow", retry.Policy{DelayFunc: func(n int) time.Duration { return time.Second << (n + 30) }}, 4, retry.ErrNegativeDelay,
			"delay function must return a non-negative duration"},
		{"NaN rand", retry.Policy{Rand: func() float64 { return math.NaN() }}, 0, retry.ErrBadRand,
			"retry: Rand() = NaN: random source must return a value in [0, 1]"},
		{"rand above 1", retry.Policy{Rand: retrytest.Sequence(1.5)}, 0, retry.ErrBadRand,
			"retry: Rand() = 1.5: random source must return a value in [0, 1]"},
		{"negative rand", retry.Policy{Rand: retrytest.Sequence(-0.1)}, 0, retry.ErrBadRand,
			"retry: Rand() = -0.1: random source must return a value in [0, 1]"},
		{"negative n", retry.Policy{}, -1, nil,
			"retry: Delay: retry number must not be negative, got -1"},
		{"invalid policy", retry.Policy{MaxDelay: -1}, 0, nil,
			"retry: MaxDelay must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.p.Delay(tt.n, errFlaky)
			if err == nil {
				t.Fatalf("Delay(%d) = %v, nil, want error containing %q", tt.n, d, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Delay(%d) error = %q, want it to contain %q", tt.n, err, tt.wantMsg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
		})
	}
}
