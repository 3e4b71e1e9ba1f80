package queue

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/isolated-workers/isolated-workers-go/queue/internal/natstest"
)

// TestHostsOnAClusterSurviveKill9 runs two host processes, each with a
// pool of real workers, on one durable consumer over a 3-node cluster
// (node processes, natstest.StartProcesses) with replicated streams. A
// quarter of the way through it kill -9s one host, half way the node
// process leading the jobs stream. Every job must
// still take effect (the effect is recorded once per job ID; the handler
// runs that a re-delivery causes are counted and logged), the queue must
// end empty, and no job may be dead-lettered. clusterJobs (5,000) jobs,
// or IW_TEST_JOBS.
func TestHostsOnAClusterSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster and host processes")
	}
	n := clusterJobs
	if v, err := strconv.Atoi(os.Getenv(jobsEnv)); err == nil && v > 0 {
		n = v
	}
	worker := buildTestWorker(t)
	c := natstest.StartProcesses(t, 3)
	urls := c.URLs()
	reconnect := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
	q, err := Open(testContext(t), Config{URLs: urls, Replicas: 3, NATSOptions: reconnect})
	if err != nil {
		t.Fatalf("Open(URLs %v, Replicas 3) = %v", urls, err)
	}
	t.Cleanup(func() { q.Close() })

	start := time.Now()
	enqueueAll(t, q, n)
	enqueued := time.Since(start)

	lines := make(chan hostLine, linesBuffer(n))
	env := []string{hostURLsEnv + "=" + strings.Join(urls, ","), hostWorkerEnv + "=" + worker}
	a := startHost(t, "a", env, lines)
	b := startHost(t, "b", env, lines)
	e := newEffects()

	e.waitUntil(t, lines, "a quarter of the jobs, some on each host, one running on host a", func() bool {
		return len(e.applied) >= n/4 && e.byHost["a"] > 0 && e.byHost["b"] > 0 && len(e.inFlight("a")) > 0
	})
	a.kill9(t)
	e.recordSent(lines)
	inFlight := len(e.inFlight("a"))
	t.Logf("killed host a (-9) with %d jobs in flight, after %d effects", inFlight, len(e.applied))

	e.waitUntil(t, lines, "half of the jobs", func() bool { return len(e.applied) >= n/2 })
	leader := streamLeader(t, q)
	c.Kill9(leader)
	t.Logf("killed node n%d (-9), the jobs stream's leader, after %d effects", leader+1, len(e.applied))

	e.waitUntil(t, lines, "every job", func() bool { return len(e.applied) == n })
	took := time.Since(start)
	b.stop(t)
	for l := range drain(lines) {
		e.record(l)
	}
	e.check(t, n)
	for _, id := range e.inFlight("a") {
		if e.applied[id] == "" {
			t.Errorf("job %s, in flight on the killed host, never took effect", id)
		}
	}
	checkEmpty(t, q)
	t.Logf("%d jobs: enqueued in %v, all took effect %v after the first Enqueue", n, enqueued.Round(time.Millisecond), took.Round(time.Millisecond))
}

// TestHostKill9OnEmbeddedStoreThenRestart kill -9s a host process that
// embeds the server (the default mode) a third of the way through its
// jobs, then starts a new host on the same StoreDir: the jobs that were in
// flight run again, none is lost, none takes effect twice (the effect is
// recorded once per job ID; re-runs are counted), and the queue ends empty.
func TestHostKill9OnEmbeddedStoreThenRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs host processes")
	}
	const n = embeddedJobs
	worker := buildTestWorker(t)
	dir := t.TempDir()
	q, err := Open(testContext(t), Config{StoreDir: dir})
	if err != nil {
		t.Fatalf("Open(StoreDir %s) = %v", dir, err)
	}
	enqueueAll(t, q, n)
	if err := q.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	lines := make(chan hostLine, linesBuffer(n))
	env := []string{hostStoreEnv + "=" + dir, hostWorkerEnv + "=" + worker}
	e := newEffects()
	first := startHost(t, "first", env, lines)
	e.waitUntil(t, lines, "a third of the jobs, one running", func() bool {
		return len(e.applied) >= n/3 && len(e.inFlight("first")) > 0
	})
	first.kill9(t)
	e.recordSent(lines)
	inFlight := e.inFlight("first")
	t.Logf("killed the host (-9) with %d jobs in flight, after %d effects", len(inFlight), len(e.applied))

	second := startHost(t, "second", env, lines)
	e.waitUntil(t, lines, "every job", func() bool { return len(e.applied) == n })
	second.stop(t)
	for l := range drain(lines) {
		e.record(l)
	}
	e.check(t, n)
	for _, id := range inFlight {
		if !e.started["second"][id] {
			t.Errorf("job %s, in flight when the host was killed, did not run again on the restarted host", id)
		}
	}
	for id, c := range e.completed {
		if c > 1 {
			t.Errorf("job %s reported COMPLETED %d times, want once", id, c)
		}
	}

	q = openQueue(t, dir)
	checkEmpty(t, q)
}

// streamLeader returns the index of the node leading the jobs stream.
func streamLeader(t *testing.T, q *Queue) int {
	t.Helper()
	info, err := q.jobs.Info(testContext(t))
	if err != nil {
		t.Fatalf("jobs stream info: %v", err)
	}
	if info.Cluster == nil || !strings.HasPrefix(info.Cluster.Leader, "n") {
		t.Fatalf("jobs stream info: no leader in %+v", info.Cluster)
	}
	i, err := strconv.Atoi(strings.TrimPrefix(info.Cluster.Leader, "n"))
	if err != nil {
		t.Fatalf("jobs stream leader %q: %v", info.Cluster.Leader, err)
	}
	return i - 1
}

// linesBuffer is room for every line the hosts may report for n jobs
// (start, effect, completed, and again per re-delivery), so a host's reader
// never blocks while the test waits for the host to exit.
func linesBuffer(n int) int { return 4*n + 100 }

// drain returns the lines already sent (the hosts have exited, so no more
// come).
func drain(lines chan hostLine) <-chan hostLine {
	close(lines)
	return lines
}
