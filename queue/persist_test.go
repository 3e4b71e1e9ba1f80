package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

func TestDeadLettersPersistAcrossCloseAndOpen(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)

	// First run: a job fails for good; another is still queued at Close.
	q1, err := Open(ctx, Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	evs := make(events, 100)
	stop := consume(t, q1, ConsumerConfig{Types: []string{"fail"}, Retry: retry.Policy{MaxAttempts: 1}, Status: evs,
		Handler: func(context.Context, Job) error { return faults.Permanentf("no such customer") }})
	if _, err := q1.Enqueue(ctx, Job{ID: "j1", Type: "fail", Payload: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if _, err := q1.Enqueue(ctx, Job{ID: "j2", Type: "later"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, evs, "FAILED", jobStatus("j1", status.Failed))
	stop()
	if err := q1.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	// Second run on the same directory.
	q2 := openQueue(t, dir)
	list, err := q2.DeadLetters().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].JobID != "j1" || len(list[0].Errors) != 1 || list[0].Err.Error() != "no such customer" ||
		faults.ClassOf(list[0].Err) != faults.Permanent {
		t.Fatalf("dead letters after reopen = %+v, want j1 with its permanent error", list)
	}
	got := make(chan string, 1)
	consume(t, q2, ConsumerConfig{Types: []string{"later"}, Handler: func(_ context.Context, job Job) error {
		got <- job.ID
		return nil
	}})
	if id := recv(t, got, "queued job after reopen"); id != "j2" {
		t.Errorf("after reopen ran %q, want j2", id)
	}
	if err := q2.DeadLetters().Remove(ctx, list[0].ID); err != nil {
		t.Errorf("Remove(%s) = %v", list[0].ID, err)
	}
	if err := q2.DeadLetters().Remove(ctx, list[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove(%s) = %v, want ErrNotFound", list[0].ID, err)
	}
}

func TestPipelineRecordsIntoDurableDeadLetters(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	charge := action.New("charge", func(context.Context, *action.JobInfo, Job) (int, error) {
		return 0, faults.Businessf("card declined")
	})
	p, err := action.NewPipeline[Job, int]("checkout", []action.Stage{charge}, action.WithDeadLetter(q.DeadLetters()))
	if err != nil {
		t.Fatal(err)
	}
	job := Job{ID: "c1", Type: "checkout", Payload: []byte("{}")}
	if _, err := p.Run(ctx, &action.JobInfo{JobID: job.ID, WorkerID: "w1"}, job); err == nil {
		t.Fatal("Run() = nil, want the business error")
	}
	list, err := q.DeadLetters().List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List() = %d entries, %v; want 1", len(list), err)
	}
	e := list[0]
	if e.JobID != "c1" || e.Action != "charge" || e.WorkerID != "w1" || faults.ClassOf(e.Err) != faults.Business {
		t.Errorf("entry = %+v, want job c1, action charge, worker w1, a business error", e)
	}
	if in, ok := e.Input.(Job); !ok || in.Type != "checkout" {
		t.Errorf("entry Input = %#v, want the job", e.Input)
	}
}
