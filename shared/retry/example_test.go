package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

func ExampleDo() {
	p := retry.Policy{
		MaxAttempts: 4,
		BaseDelay:   time.Millisecond, // jittered windows of 1ms, 2ms, 4ms
		OnRetry: func(attempt int, err error, _ time.Duration) {
			fmt.Printf("attempt %d failed: %v\n", attempt, err)
		},
	}
	err := retry.Do(context.Background(), p, func(ctx context.Context, attempt int) error {
		if attempt < 3 {
			return faults.Transientf("inventory service unavailable")
		}
		return nil
	})
	fmt.Println("result:", err)
	// Output:
	// attempt 1 failed: inventory service unavailable
	// attempt 2 failed: inventory service unavailable
	// result: <nil>
}

func ExampleDo_permanent() {
	err := retry.Do(context.Background(), retry.Policy{}, func(ctx context.Context, attempt int) error {
		return faults.Permanentf("order %d: no items", 7)
	})
	var re *retry.Error
	if errors.As(err, &re) {
		fmt.Println(re.Attempts, faults.ClassOf(err))
	}
	fmt.Println(err)
	// Output:
	// 1 permanent
	// retry: not retrying permanent error after attempt 1: order 7: no items
}

func ExampleDoValue() {
	p := retry.Policy{DelayFunc: func(n int) time.Duration { return 0 }}
	n, err := retry.DoValue(context.Background(), p, func(ctx context.Context, attempt int) (int, error) {
		if attempt == 1 {
			return 0, errors.New("first call always fails")
		}
		return 42, nil
	})
	fmt.Println(n, err)
	// Output: 42 <nil>
}

func ExamplePolicy_Delay() {
	p := retry.Policy{NoJitter: true, MaxDelay: 5 * time.Second}
	var ds []time.Duration
	for n := range 5 {
		d, _ := p.Delay(n, errors.New("unavailable"))
		ds = append(ds, d)
	}
	fmt.Println(ds)
	d, _ := p.Delay(0, faults.WithRetryAfter(errors.New("rate limited"), 3*time.Second))
	fmt.Println(d)
	// Output:
	// [1s 2s 4s 5s 5s]
	// 3s
}

// A connection retry with a fixed schedule: five attempts, each delay from a
// function and capped at 5s.
func ExamplePolicy_delayFunc() {
	p := retry.Policy{
		MaxAttempts: 5,
		MaxDelay:    5 * time.Second,
		DelayFunc:   func(n int) time.Duration { return time.Duration(n+1) * 2 * time.Second },
	}
	var ds []time.Duration
	for n := range 4 {
		d, _ := p.Delay(n, errors.New("connection refused"))
		ds = append(ds, d)
	}
	fmt.Println(ds)
	// Output: [2s 4s 5s 5s]
}
