package faults_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

func ExampleClassOf() {
	declared := fmt.Errorf("charge order 7: %w", faults.Businessf("insufficient funds"))
	fmt.Println(faults.ClassOf(declared))
	fmt.Println(faults.ClassOf(fmt.Errorf("fetch: %w", context.DeadlineExceeded)))
	fmt.Println(faults.ClassOf(context.Canceled))
	fmt.Println(faults.ClassOf(errors.New("something odd")))
	// Output:
	// business
	// transient
	// permanent
	// unknown
}

func ExampleWithRetryAfter() {
	err := faults.WithRetryAfter(errors.New("rate limited"), 2*time.Second)
	err = fmt.Errorf("call payments: %w", err)
	d, ok := faults.RetryAfter(err)
	fmt.Println(faults.ClassOf(err), d, ok)
	// Output: transient 2s true
}

func ExampleWithCode() {
	err := faults.WithCode(faults.Permanentf("order %d has no items", 7), "empty_order")
	fmt.Println(err, faults.CodeOf(err), faults.ClassOf(err))
	// Output: order 7 has no items empty_order permanent
}
