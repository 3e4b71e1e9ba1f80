package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// tinyPolicy retries after 10ms, 20ms, ... and records the retry numbers it
// was asked for.
type tinyPolicy struct {
	mu   sync.Mutex
	asks []int
}

func (p *tinyPolicy) policy(attempts int) retry.Policy {
	return retry.Policy{MaxAttempts: attempts, DelayFunc: func(n int) time.Duration {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.asks = append(p.asks, n)
		return time.Duration(n+1) * 10 * time.Millisecond
	}}
}

func (p *tinyPolicy) asked() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.asks...)
}

func TestTransientFailureIsRetriedWithPolicyDelays(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	var tp tinyPolicy
	attempts := make(chan int, 10)
	evs := make(events, 100)
	consume(t, q, ConsumerConfig{Retry: tp.policy(3), Status: evs, Handler: func(_ context.Context, job Job) error {
		attempts <- job.Attempt
		if job.Attempt < 3 {
			return faults.Transientf("flaky backend, attempt %d", job.Attempt)
		}
		return nil
	}})
	if _, err := q.Enqueue(ctx, Job{ID: "flaky", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	ev := waitFor(t, evs, "COMPLETED", jobStatus("flaky", status.Completed))
	if ev.Attempt != 3 {
		t.Errorf("COMPLETED at attempt %d, want 3", ev.Attempt)
	}
	var seen []int
	for range 3 {
		seen = append(seen, recv(t, attempts, "attempt"))
	}
	if diff := cmp.Diff([]int{1, 2, 3}, seen); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 1}, tp.asked()); diff != "" {
		t.Errorf("policy delays asked for retry numbers (-want +got):\n%s", diff)
	}
	if _, err := q.attempts.Get(ctx, token("flaky")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("attempt errors of a completed job: Get = %v, want ErrKeyNotFound (dropped)", err)
	}
}

// deadLetterOf waits for the job's FAILED event and returns its dead letter.
func deadLetterOf(t *testing.T, q *Queue, evs events, id string) (entries int, errs []AttemptError, e Job) {
	t.Helper()
	waitFor(t, evs, "FAILED of "+id, jobStatus(id, status.Failed))
	list, err := q.DeadLetters().List(testContext(t))
	if err != nil {
		t.Fatalf("DeadLetters().List() = %v", err)
	}
	for _, ent := range list {
		if ent.JobID != id {
			continue
		}
		for _, err := range ent.Errors {
			var ae *AttemptError
			if !errors.As(err, &ae) {
				t.Fatalf("dead letter error %T %v is not an *AttemptError", err, err)
			}
			c := *ae
			c.Time, c.WorkerID = time.Time{}, ""
			errs = append(errs, c)
		}
		e, _ = ent.Input.(Job)
		if ent.Attempts != len(ent.Errors) {
			t.Errorf("dead letter Attempts = %d, want %d", ent.Attempts, len(ent.Errors))
		}
	}
	return len(list), errs, e
}

func TestPermanentFailureGoesToDeadLetterWithEveryAttempt(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	var tp tinyPolicy
	evs := make(events, 100)
	consume(t, q, ConsumerConfig{Retry: tp.policy(5), Status: evs, Handler: func(_ context.Context, job Job) error {
		if job.Attempt == 1 {
			return faults.Transientf("timeout")
		}
		return faults.WithCode(faults.Permanentf("bad input %s", job.Payload), "E_INPUT")
	}})
	if _, err := q.Enqueue(ctx, Job{ID: "bad", Type: "t", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	n, errs, job := deadLetterOf(t, q, evs, "bad")
	want := []AttemptError{
		{Attempt: 1, Message: "timeout", Class: faults.Transient},
		{Attempt: 2, Message: "bad input x", Class: faults.Permanent, Code: "E_INPUT"},
	}
	if n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("dead letter errors (-want +got):\n%s", diff)
	}
	if job.ID != "bad" || job.Type != "t" || string(job.Payload) != "x" {
		t.Errorf("dead letter job = %+v, want ID bad, type t, payload x", job)
	}
	if c, err := q.Counts(ctx); err != nil || c.DeadLetters != 1 || c.Depth != 0 {
		t.Errorf("Counts() = %+v, %v; want 1 dead letter, depth 0 (the job was terminated)", c, err)
	}
}

func TestLastAttemptGoesToDeadLetter(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	var tp tinyPolicy
	evs := make(events, 100)
	consume(t, q, ConsumerConfig{Retry: tp.policy(2), Status: evs, Handler: func(_ context.Context, job Job) error {
		return faults.Transientf("down %d", job.Attempt)
	}})
	if _, err := q.Enqueue(ctx, Job{ID: "down", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	_, errs, _ := deadLetterOf(t, q, evs, "down")
	want := []AttemptError{
		{Attempt: 1, Message: "down 1", Class: faults.Transient},
		{Attempt: 2, Message: "down 2", Class: faults.Transient},
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("dead letter errors (-want +got):\n%s", diff)
	}
}

func TestRedriveRunsTheJobAgain(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	var mu sync.Mutex
	fixed := false
	evs := make(events, 100)
	runs := make(chan Job, 10)
	consume(t, q, ConsumerConfig{Retry: retry.Policy{MaxAttempts: 1}, Status: evs, Handler: func(_ context.Context, job Job) error {
		runs <- job
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			return faults.Businessf("insufficient funds")
		}
		return nil
	}})
	if _, err := q.Enqueue(ctx, Job{ID: "pay", Type: "t", Payload: []byte("10"), Headers: map[string]string{"tenant": "x"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, evs, "FAILED", jobStatus("pay", status.Failed))
	recv(t, runs, "first run")
	list, err := q.DeadLetters().List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List() = %d entries, %v; want 1", len(list), err)
	}
	mu.Lock()
	fixed = true
	mu.Unlock()
	if _, err := q.DeadLetters().Redrive(ctx, list[0].ID); err != nil {
		t.Fatalf("Redrive(%s) = %v", list[0].ID, err)
	}
	waitFor(t, evs, "COMPLETED", jobStatus("pay", status.Completed))
	job := recv(t, runs, "re-driven run")
	if job.ID != "pay" || string(job.Payload) != "10" || job.Headers["tenant"] != "x" || job.redrives != 1 {
		t.Errorf("re-driven job = %+v, want the same ID, payload and headers, redrives 1", job)
	}
	if n, err := q.DeadLetters().Len(ctx); n != 0 || err != nil {
		t.Errorf("Len() after Redrive = %d, %v; want 0", n, err)
	}
	if _, err := q.DeadLetters().Get(ctx, list[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(%s) after Redrive = %v, want ErrNotFound", list[0].ID, err)
	}
	// A retried Redrive of the same entry finds nothing to do.
	if _, err := q.DeadLetters().Redrive(ctx, list[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Redrive(%s) = %v, want ErrNotFound", list[0].ID, err)
	}
}
