package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// testTimeout bounds every wait in these tests; it only matters when one
// fails.
const testTimeout = 30 * time.Second

// openQueue opens a queue with an embedded server on dir (a new temporary
// directory when dir is "") and closes it at the end of the test.
func openQueue(t *testing.T, dir string) *Queue {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	q, err := Open(context.Background(), Config{StoreDir: dir})
	if err != nil {
		t.Fatalf("Open(StoreDir %s) = %v", dir, err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return q
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// consume runs q.Consume(cfg) in the background until the end of the test
// (or until the returned stop is called), and checks how it ended.
func consume(t *testing.T, q *Queue, cfg ConsumerConfig) (stop func()) {
	t.Helper()
	if cfg.FetchWait == 0 {
		cfg.FetchWait = 200 * time.Millisecond // stopping waits for the last pull
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Consume(ctx, cfg) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
				t.Errorf("Consume() = %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// events is a status.Publisher that passes events on a channel.
type events chan status.Event

func (e events) Publish(ev status.Event) { e <- ev }

// waitFor returns the first event from evs for which match is true.
func waitFor(t *testing.T, evs events, what string, match func(status.Event) bool) status.Event {
	t.Helper()
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for {
		select {
		case ev := <-evs:
			if match(ev) {
				return ev
			}
		case <-timeout.C:
			t.Fatalf("no %s event within %v", what, testTimeout)
		}
	}
}

func jobStatus(id string, st status.Status) func(status.Event) bool {
	return func(ev status.Event) bool { return ev.JobID == id && ev.Status == st }
}

// recv returns the next value from ch or fails the test.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("no %s within %v", what, testTimeout)
		panic("unreachable")
	}
}
