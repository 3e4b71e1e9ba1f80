package retrytest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/retry/retrytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFakeClockAdvance(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	if got := clk.Now(); !got.Equal(retrytest.Epoch) {
		t.Errorf("Now() = %v, want %v", got, retrytest.Epoch)
	}
	a := clk.After(2 * time.Second)
	b := clk.After(time.Second)
	zero := clk.After(0)
	select {
	case <-zero:
	default:
		t.Errorf("After(0) did not fire at once")
	}
	if got := clk.Sleepers(); got != 2 {
		t.Errorf("Sleepers() = %d, want 2", got)
	}
	clk.Advance(time.Second)
	select {
	case got := <-b:
		if want := retrytest.Epoch.Add(time.Second); !got.Equal(want) {
			t.Errorf("After(1s) fired with %v, want %v", got, want)
		}
	default:
		t.Errorf("After(1s) did not fire after Advance(1s)")
	}
	select {
	case <-a:
		t.Errorf("After(2s) fired after Advance(1s)")
	default:
	}
	clk.Advance(time.Second)
	<-a
	if got := clk.Sleepers(); got != 0 {
		t.Errorf("Sleepers() = %d, want 0", got)
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second, time.Second, 0}, clk.Sleeps()); diff != "" {
		t.Errorf("Sleeps() mismatch (-want +got):\n%s", diff)
	}
}

func TestFakeClockStart(t *testing.T) {
	start := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	if got := retrytest.NewFakeClock(start).Now(); !got.Equal(start) {
		t.Errorf("NewFakeClock(%v).Now() = %v", start, got)
	}
}

func TestFakeClockBlockUntilAndNext(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	woke := make(chan time.Duration, 1)
	go func() {
		defer wg.Done()
		start := clk.Now()
		t := <-clk.After(3 * time.Second)
		woke <- t.Sub(start)
	}()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("BlockUntil(1) = %v", err)
	}
	d, err := clk.Next(ctx)
	if d != 3*time.Second || err != nil {
		t.Errorf("Next() = %v, %v, want 3s, nil", d, err)
	}
	if got := <-woke; got != 3*time.Second {
		t.Errorf("sleeper woke after %v, want 3s", got)
	}
	wg.Wait()
}

func TestFakeClockBlockUntilCancelled(t *testing.T) {
	clk := retrytest.NewFakeClock(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := clk.BlockUntil(ctx, 1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("BlockUntil(cancelled ctx) = %v, want it to wrap context.Canceled", err)
	}
	if _, err := clk.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next(cancelled ctx) = %v, want it to wrap context.Canceled", err)
	}
}

func TestSequence(t *testing.T) {
	tests := []struct {
		vals []float64
		want []float64
	}{
		{nil, []float64{0, 0}},
		{[]float64{0.5}, []float64{0.5, 0.5, 0.5}},
		{[]float64{0.1, 0.9}, []float64{0.1, 0.9, 0.9}},
	}
	for _, tt := range tests {
		r := retrytest.Sequence(tt.vals...)
		var got []float64
		for range tt.want {
			got = append(got, r())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Sequence(%v) mismatch (-want +got):\n%s", tt.vals, diff)
		}
	}
}
