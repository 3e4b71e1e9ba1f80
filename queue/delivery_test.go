package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestDelayedJobRunsAfterLaterImmediateOne(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	res, err := q.Enqueue(ctx, Job{ID: "later", Type: "t", Delay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.RunAt.IsZero() {
		t.Errorf("Enqueue(Delay 1s).RunAt is zero, want the due time")
	}
	if _, err := q.Enqueue(ctx, Job{ID: "now", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	// A delayed job is not a duplicate-free loophole: its ID is taken.
	if _, err := q.Enqueue(ctx, Job{ID: "later", Type: "t"}); err == nil {
		t.Errorf("Enqueue(later) again = nil, want ErrDuplicate")
	}
	type run struct {
		id string
		at time.Time
	}
	got := make(chan run, 10)
	consume(t, q, ConsumerConfig{Handler: func(_ context.Context, job Job) error {
		got <- run{job.ID, time.Now()}
		return nil
	}})
	first, second := recv(t, got, "first job"), recv(t, got, "second job")
	if first.id != "now" || second.id != "later" {
		t.Fatalf("ran %q then %q, want now then later (delayed)", first.id, second.id)
	}
	if second.at.Before(res.RunAt) {
		t.Errorf("delayed job ran at %v, before its RunAt %v", second.at, res.RunAt)
	}
}

func TestInProgressAckKeepsLongJobFromRedelivery(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	const ackWait = 200 * time.Millisecond
	var mu sync.Mutex
	runs := map[string][]int{}
	done := make(chan string, 10)
	consume(t, q, ConsumerConfig{AckWait: ackWait, MaxInFlight: 4, Handler: func(ctx context.Context, job Job) error {
		mu.Lock()
		runs[job.ID] = append(runs[job.ID], job.Attempt)
		mu.Unlock()
		if job.ID == "long" && job.Attempt == 1 {
			// The job outlives AckWait several times over: that is the
			// condition under test, so this wait is the point.
			select {
			case <-time.After(5 * ackWait):
			case <-ctx.Done():
			}
		}
		done <- job.ID
		return nil
	}})
	if _, err := q.Enqueue(ctx, Job{ID: "long", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	for recv(t, done, "long job") != "long" {
	}
	// A re-delivery during the long run would have reached the consumer,
	// which had free slots; a sentinel behind it proves the consumer pulled.
	if _, err := q.Enqueue(ctx, Job{ID: "sentinel", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	for recv(t, done, "sentinel") != "sentinel" {
	}
	mu.Lock()
	defer mu.Unlock()
	if len(runs["long"]) != 1 {
		t.Errorf("long job ran at attempts %v, want once (in-progress acks every AckWait/2)", runs["long"])
	}
}

func TestUnackedJobIsRedeliveredAfterAckWait(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	cfg := ConsumerConfig{Name: "hosts", AckWait: 300 * time.Millisecond}
	got := make(chan Job, 10)
	cfg.Handler = func(_ context.Context, job Job) error {
		got <- job
		return nil
	}
	cons, err := q.consumer(ctx, cfg.withDefaults(q))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, Job{ID: "orphan", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	// A host takes the job and dies: it never acknowledges.
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(testTimeout))
	if err != nil {
		t.Fatal(err)
	}
	m := recv(t, batch.Messages(), "the job, on the host that dies")
	if id := m.Headers().Get(HeaderJobID); id != "orphan" {
		t.Fatalf("first host got job %q, want orphan", id)
	}
	// Another host, on the same durable consumer, gets it after AckWait.
	consume(t, q, cfg)
	job := recv(t, got, "re-delivered job")
	if job.ID != "orphan" || job.Attempt != 2 {
		t.Errorf("second host got job %q attempt %d, want orphan attempt 2", job.ID, job.Attempt)
	}
}

func TestCloseStopsConsume(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	q, err := Open(ctx, Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	const ackWait = 300 * time.Millisecond
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(context.Background(), ConsumerConfig{AckWait: ackWait, Handler: func(ctx context.Context, job Job) error {
			close(started)
			<-ctx.Done() // a long job, stopped by Close
			return ctx.Err()
		}})
	}()
	if _, err := q.Enqueue(ctx, Job{ID: "long", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	recv(t, started, "job start")
	if err := q.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	select { // Close returned after Consume did
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Consume() = %v, want ErrClosed", err)
		}
	default:
		t.Fatal("Close returned while Consume was still running")
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}

	// The job survives for the next run (the restarted engine re-delivers
	// it after AckWait).
	q2 := openQueue(t, dir)
	got := make(chan Job, 1)
	consume(t, q2, ConsumerConfig{AckWait: ackWait, Handler: func(_ context.Context, job Job) error {
		got <- job
		return nil
	}})
	if job := recv(t, got, "job of the first run"); job.ID != "long" {
		t.Errorf("next run got %q, want long", job.ID)
	}
}

func TestStoppedConsumeReleasesRunningJobAtOnce(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	// Far beyond the test's timeout: only an explicit release brings the
	// job to the second host in time.
	const ackWait = 10 * time.Minute
	started := make(chan struct{})
	stop := consume(t, q, ConsumerConfig{AckWait: ackWait, Handler: func(ctx context.Context, job Job) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}})
	if _, err := q.Enqueue(ctx, Job{ID: "handover", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	recv(t, started, "job start on the first host")
	stop()
	got := make(chan Job, 1)
	consume(t, q, ConsumerConfig{AckWait: ackWait, Handler: func(_ context.Context, job Job) error {
		got <- job
		return nil
	}})
	if job := recv(t, got, "released job on the second host"); job.ID != "handover" || job.Attempt != 2 {
		t.Errorf("second host got %q attempt %d, want handover attempt 2", job.ID, job.Attempt)
	}
}
