package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

func TestEnqueueConsumeAck(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	ids := []string{"a1", "a2", "order:42/x"}
	for _, id := range ids {
		if _, err := q.Enqueue(ctx, Job{ID: id, Type: "resize", Payload: []byte("p-" + id), Headers: map[string]string{"k": id}}); err != nil {
			t.Fatalf("Enqueue(%q) = %v", id, err)
		}
	}
	got := make(chan Job, 10)
	evs := make(events, 100)
	consume(t, q, ConsumerConfig{
		MaxInFlight: 1, // one at a time: the order is the queue's
		Status:      evs,
		Handler: func(_ context.Context, job Job) error {
			got <- job
			return nil
		},
	})
	for _, id := range ids {
		job := recv(t, got, "job "+id)
		want := Job{ID: id, Type: "resize", Payload: []byte("p-" + id), Headers: map[string]string{"k": id}, Attempt: 1}
		if diff := cmp.Diff(want, job, cmp.AllowUnexported(Job{})); diff != "" {
			t.Errorf("handled job (-want +got):\n%s", diff)
		}
	}
	waitFor(t, evs, "COMPLETED of the last job", jobStatus(ids[2], status.Completed))
	c, err := q.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Counts{}) {
		t.Errorf("Counts() after all jobs = %+v, want all zero", c)
	}
}

func TestEnqueueDuplicateID(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	if _, err := q.Enqueue(ctx, Job{ID: "dup", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	res, err := q.Enqueue(ctx, Job{ID: "dup", Type: "t", Payload: []byte("again")})
	if !errors.Is(err, ErrDuplicate) || !res.Duplicate {
		t.Fatalf("second Enqueue(dup) = %+v, %v; want Duplicate and ErrDuplicate", res, err)
	}
	if _, err := q.Enqueue(ctx, Job{ID: "last", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	consume(t, q, ConsumerConfig{MaxInFlight: 1, Handler: func(_ context.Context, job Job) error {
		got <- job.ID
		return nil
	}})
	// FIFO: a stored duplicate would come between dup and last.
	if a, b := recv(t, got, "first job"), recv(t, got, "second job"); a != "dup" || b != "last" {
		t.Errorf("handled %q then %q, want dup then last (the duplicate is not stored)", a, b)
	}
}
