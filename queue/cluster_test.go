package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/queue/internal/natstest"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// TestTwoHostsShareOneQueueOnACluster runs two hosts, each connected to a
// different node of a 3-node cluster with replicated streams, on one durable
// consumer: every job runs exactly once (no failures here, so no
// re-deliveries). How the jobs split between the hosts depends on who pulls
// first and is only logged. (The kill -9 test over this cluster is a later
// round's.)
func TestTwoHostsShareOneQueueOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := natstest.Start(t, 3)
	urls := c.URLs()
	ctx := testContext(t)
	open := func(url string) *Queue {
		q, err := Open(ctx, Config{URLs: []string{url}, Replicas: 3})
		if err != nil {
			t.Fatalf("Open(URLs %s, Replicas 3) = %v", url, err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
	hostA, hostB := open(urls[0]), open(urls[1])

	const jobs = 50
	var mu sync.Mutex
	runs := map[string]int{}
	byHost := map[string]int{}
	evs := make(events, 2*jobs)
	for _, h := range []struct {
		name string
		q    *Queue
	}{{"a", hostA}, {"b", hostB}} {
		consume(t, h.q, ConsumerConfig{MaxInFlight: 8, WorkerID: h.name, Status: evs, Handler: func(_ context.Context, job Job) error {
			mu.Lock()
			runs[job.ID]++
			byHost[h.name]++
			mu.Unlock()
			return nil
		}})
	}
	for i := range jobs {
		if _, err := hostA.Enqueue(ctx, Job{ID: fmt.Sprintf("job-%d", i), Type: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	for done := 0; done < jobs; {
		if ev := waitFor(t, evs, "COMPLETED", func(ev status.Event) bool { return ev.Status == status.Completed }); ev.JobID != "" {
			done++
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range jobs {
		if id := fmt.Sprintf("job-%d", i); runs[id] != 1 {
			t.Errorf("job %s ran %d times, want 1", id, runs[id])
		}
	}
	t.Logf("jobs run by host: %v", byHost)
}
