package queue

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/isolated-workers/isolated-workers-go/host/statushub"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

func TestStatusOnSubjectAndInBucket(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)

	// The subject of one job.
	sub, err := q.nc.SubscribeSync(q.n.statusSubject("job one"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	// A hub fed from the engine, as on any host.
	hub, err := statushub.NewHub(statushub.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	hubSub, err := hub.Subscribe(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	fctx, stopFeed := context.WithCancel(ctx)
	fed := make(chan error, 1)
	go func() { fed <- q.Feed(fctx, hub) }()
	defer func() {
		stopFeed()
		if err := <-fed; !errors.Is(err, context.Canceled) {
			t.Errorf("Feed() = %v, want context.Canceled", err)
		}
	}()

	consume(t, q, ConsumerConfig{Status: q.Status(), WorkerID: "host-a", Handler: func(context.Context, Job) error { return nil }})
	if _, err := q.Enqueue(ctx, Job{ID: "job one", Type: "t"}); err != nil {
		t.Fatal(err)
	}

	var onSubject []status.Status
	for len(onSubject) < 2 {
		m, err := sub.NextMsg(testTimeout)
		if err != nil {
			t.Fatalf("status subject: %v", err)
		}
		var ev status.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		onSubject = append(onSubject, ev.Status)
	}
	if onSubject[0] != status.Processing || onSubject[1] != status.Completed {
		t.Errorf("status subject carried %v, want PROCESSING, COMPLETED", onSubject)
	}
	for {
		ev := recv(t, hubSub.C(), "hub event")
		if ev.JobID == "job one" && ev.Status == status.Completed {
			if ev.WorkerID != "host-a" {
				t.Errorf("hub event worker = %q, want host-a", ev.WorkerID)
			}
			break
		}
	}

	// A feed that starts later (a host that joins, a page that reconnects
	// to it) is seeded with the current state from the bucket.
	late := make(events, 10)
	lctx, stopLate := context.WithCancel(ctx)
	lateDone := make(chan error, 1)
	go func() { lateDone <- q.Feed(lctx, late) }()
	ev := waitFor(t, late, "seeded state", func(ev status.Event) bool { return ev.JobID == "job one" })
	if ev.Status != status.Completed {
		t.Errorf("late feed seeded %s, want COMPLETED", ev.Status)
	}
	stopLate()
	<-lateDone

	latest, err := q.Latest(ctx)
	if err != nil || len(latest) != 1 || latest[0].Status != status.Completed {
		t.Errorf("Latest() = %+v, %v; want one COMPLETED job", latest, err)
	}
	if st := q.Status().Stats(); st.Failed != 0 || st.Published < 2 {
		t.Errorf("Status().Stats() = %+v, want at least 2 published, none failed", st)
	}
}

func TestGaugesShowDepthInFlightAndDeadLetters(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	for _, id := range []string{"w1", "w2", "w3"} {
		if _, err := q.Enqueue(ctx, Job{ID: id, Type: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.DeadLetters().Record(ctx, action.Entry{JobID: "old", Err: errors.New("gone")}); err != nil {
		t.Fatal(err)
	}
	// One job taken and held by a host: in flight.
	started, release := make(chan struct{}), make(chan struct{})
	consume(t, q, ConsumerConfig{MaxInFlight: 1, Handler: func(_ context.Context, job Job) error {
		if job.ID == "w1" {
			close(started)
			<-release
		}
		return nil
	}})
	recv(t, started, "w1 running")
	defer close(release)
	got, err := q.Gauges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []statushub.Gauge{{Name: "queue depth", Value: 2}, {Name: "in flight", Value: 1}, {Name: "dead letters", Value: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Gauges() (-want +got):\n%s", diff)
	}
}
