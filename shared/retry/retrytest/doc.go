// Package retrytest helps test code that uses package retry: a fake
// [retry.Clock] whose sleepers a test can wait for and release, and a
// deterministic random source. Helpers return errors instead of failing the
// test, so they work in any test framework.
//
// A typical schedule test runs the code under test in a goroutine and
// releases one sleep at a time:
//
//	clk := retrytest.NewFakeClock(time.Time{})
//	go func() { done <- retry.Do(ctx, retry.Policy{Clock: clk, NoJitter: true}, fn) }()
//	d, err := clk.Next(ctx) // waits for the first sleep, advances past it: d == 1s
//	d, err = clk.Next(ctx)  // d == 2s
//
// # Concurrency
//
// A FakeClock is safe for concurrent use. Sleepers abandoned by their caller
// (for example when a context is cancelled mid-sleep) stay registered until
// an Advance releases them.
package retrytest
