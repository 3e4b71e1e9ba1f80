// Command jobs runs a stream of jobs through a durable queue and a pool of
// worker processes, and shows their status live on a web page.
//
// The jobs go into a NATS JetStream queue (package queue): by default a
// server embedded in this process, storing on disk in the directory -store
// names (nothing to install); with -nats (or IW_JOBS_NATS_URLS) the same
// code runs against an external NATS cluster. The host consumes the queue
// over a host.Pool of workers, pulling no more jobs than the pool has room
// for. Each worker runs a job as a pipeline of actions (fetch, validate,
// transform). Some jobs fail transiently and the worker's retry absorbs
// it; some fail transiently too often and the queue delivers them again
// after a delay (retries live on the engine, not in this process); some
// fail permanently and are never retried. Jobs that fail for good land in
// the queue's durable dead-letter stream with every attempt's error; the
// transient ones are re-driven. The permanent ones stay: the next run of
// the example lists them first, read back from the store.
//
// Status events (PENDING on enqueue, then those the queue and the workers
// raise) are stored in the queue's status bucket; the page's hub is fed
// from it (Queue.Feed), so it would show the jobs of every host of a
// cluster, and its gauges show the queue depth, the jobs in flight and the
// dead letters.
//
// It checks that every job ended as its script says (completed by a pool
// worker, or dead-lettered after the expected attempts with the expected
// class), that the re-drives complete, that the dead letters of earlier
// runs are still there, and the error counters; it exits with status 1 if
// one is not what it expects.
//
//	go build -o bin/jobs-worker ./examples/jobs/worker
//	go run ./examples/jobs -worker bin/jobs-worker            # runs and exits
//	go run ./examples/jobs -worker bin/jobs-worker -linger 10m # keeps the page up
//	go run ./examples/jobs -worker bin/jobs-worker -nats nats://a:4222,nats://b:4222 -replicas 3
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/jobs/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/host/statushub"
	"github.com/isolated-workers/isolated-workers-go/queue"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// NATSURLsEnv names the environment variable that points the example at an
// external NATS cluster (comma-separated URLs), like -nats.
const NATSURLsEnv = "IW_JOBS_NATS_URLS"

// Limits of the example.
const (
	// jobType is the queue job type of every job.
	jobType = "order"
	// perWorker is how many jobs one worker runs at once.
	perWorker = 2
	// settleTimeout bounds the wait for the jobs of one run to end; past
	// it a check fails (the jobs stay in the queue for the next run).
	settleTimeout = 60 * time.Second
	// maxDeadLetters bounds the dead-letter stream: runs keep adding the
	// permanent failures, the oldest go first.
	maxDeadLetters = 100
	// showEarlier is how many dead letters of earlier runs are printed.
	showEarlier = 5
)

type options struct {
	workerPath string
	workers    int
	jobs       int
	addr       string
	pace       time.Duration
	linger     time.Duration
	level      hclog.Level
	store      string   // embedded server's directory
	urls       []string // external cluster
	replicas   int
}

func main() {
	var o options
	var nats string
	var verbose bool
	flag.StringVar(&o.workerPath, "worker", "bin/jobs-worker", "path to the jobs worker binary")
	flag.IntVar(&o.workers, "workers", 2, "worker processes in the pool")
	flag.IntVar(&o.jobs, "jobs", 24, "jobs to run")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "address of the status page")
	flag.DurationVar(&o.pace, "pace", 60*time.Millisecond, "delay between job submissions, so the page shows changes")
	flag.DurationVar(&o.linger, "linger", 0, "keep the status page up this long after the jobs finish (Ctrl-C ends it)")
	flag.BoolVar(&verbose, "v", false, "show the host's and workers' log records")
	flag.StringVar(&o.store, "store", defaultStore(), "directory of the embedded queue server (kept between runs)")
	flag.StringVar(&nats, "nats", os.Getenv(NATSURLsEnv), "comma-separated URLs of an external NATS cluster with JetStream, instead of the embedded server (env "+NATSURLsEnv+")")
	flag.IntVar(&o.replicas, "replicas", 1, "copies of each stream on an external cluster (3 on a 3-node cluster)")
	flag.Parse()
	if nats != "" {
		o.urls = strings.Split(nats, ",")
	}
	o.level = hclog.Off
	if verbose {
		o.level = hclog.Info
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	c := check.New()
	err := run(ctx, c, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobs:", err)
		os.Exit(1)
	}
	c.Exit()
}

// defaultStore is <user cache dir>/isolated-workers/examples-jobs, or a
// directory under the temporary directory when there is no cache dir.
func defaultStore() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "isolated-workers", "examples-jobs")
}

func run(ctx context.Context, c *check.Checker, o options) error {
	logger := hclog.New(&hclog.LoggerOptions{Name: "jobs", Level: o.level, Output: os.Stderr})

	qcfg := queue.Config{StoreDir: o.store, DeadLetterMaxEntries: maxDeadLetters, Logger: logger}
	where := "an embedded NATS JetStream server storing in " + o.store
	if len(o.urls) > 0 {
		qcfg = queue.Config{URLs: o.urls, Replicas: o.replicas, DeadLetterMaxEntries: maxDeadLetters, Logger: logger}
		where = "the NATS cluster at " + strings.Join(o.urls, ", ")
	}
	q, err := queue.Open(ctx, qcfg)
	if err != nil {
		return err
	}
	defer q.Close()
	fmt.Printf("queue: %s\n", where)

	// What earlier runs left: their permanent failures, kept on disk (or
	// in the cluster).
	earlier, err := q.DeadLetters().List(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("dead letters kept from earlier runs: %d\n", len(earlier))
	for _, e := range earlier[max(0, len(earlier)-showEarlier):] {
		fmt.Printf("  dead letter %s: job %s, %d attempt(s), %s: %v\n", e.ID, e.JobID, e.Attempts, faults.ClassOf(e.Err), e.Err)
	}

	// The page: a hub fed from the queue's status bucket and subject, and
	// the queue's counts as gauges.
	hub, err := statushub.NewHub(statushub.HubConfig{Logger: logger})
	if err != nil {
		return err
	}
	defer hub.Close()
	ws, err := statushub.NewEndpoint(hub, statushub.EndpointConfig{Gauges: q.Gauges})
	if err != nil {
		return err
	}
	defer ws.Close()
	mux := http.NewServeMux()
	mux.Handle("/", statushub.PageHandler("ws"))
	mux.Handle("/ws", ws)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Printf("status page: http://%s/\n", ln.Addr())
	feedCtx, stopFeed := context.WithCancel(ctx)
	fed := make(chan error, 1)
	go func() { fed <- q.Feed(feedCtx, hub) }()
	defer func() { stopFeed(); <-fed }()

	// The pool; its workers' status events go to the queue too.
	pool, err := host.NewPool(ctx, host.PoolConfig{
		Worker: host.Config{
			Cmd:       exec.Command(o.workerPath),
			Handshake: protocol.Handshake,
			Name:      "jobs",
			Logger:    logger,
			LogLevel:  o.level,
			Status:    q.Status(),
		},
		Size:        o.workers,
		MaxInFlight: perWorker,
	})
	if err != nil {
		return err
	}
	defer pool.Close()
	var pids []int
	for _, w := range pool.Workers() {
		pids = append(pids, w.PID)
	}
	fmt.Printf("started a pool of %d workers\n", len(pids))

	// The host's side of a job: dispatch it to the pool. Permanent errors
	// keep their class across the process boundary, so the queue does not
	// retry them.
	dispatch := action.New("dispatch", func(ctx context.Context, ac *action.JobInfo, job protocol.Job) (protocol.Result, error) {
		return host.Call(shared.WithHeaders(ctx, ac.Headers), pool, protocol.Run, job)
	})
	counters := &action.Counters{}
	runJob := action.Wrap(dispatch, action.WithErrorHandling(action.ErrorHandlingConfig{Logger: logger, Counters: counters}))
	runLeftover := action.Wrap(dispatch, action.WithErrorHandling(action.ErrorHandlingConfig{Logger: logger}))
	var recovered atomic.Bool // the upstream of the flaky jobs, before the re-drive

	// This run's jobs, and their ends as the page's hub sees them (fed
	// from the queue).
	runID := "r" + strconv.FormatInt(time.Now().UnixMilli(), 36)
	ours := func(ev status.Event) bool {
		return strings.HasPrefix(ev.JobID, runID+"-") && (ev.Status == status.Completed || ev.Status == status.Failed)
	}
	onPage := make(chan string, 4*o.jobs)
	sub, err := hub.Subscribe(ctx, ours)
	if err != nil {
		return err
	}
	defer sub.Close()
	go func() {
		for ev := range sub.C() {
			onPage <- ev.JobID
		}
	}()
	var mu sync.Mutex
	outcomes := make(map[string]outcome) // this run's jobs, by queue job ID
	settled := make(chan string, 4*o.jobs)
	consumeCtx, stopConsume := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		consumed <- q.Consume(consumeCtx, queue.ConsumerConfig{
			Types:       []string{jobType},
			WorkerID:    "jobs-host",
			MaxInFlight: o.workers * perWorker,
			FetchWait:   100 * time.Millisecond,
			Capacity: func() int {
				free := 0
				for _, w := range pool.Workers() {
					if w.State == host.WorkerReady {
						free += perWorker - w.InFlight
					}
				}
				return free
			},
			// The queue re-delivers a transient failure once, after 50 to
			// 200 ms; the worker's own retry has absorbed up to 3 tries.
			Retry: retry.Policy{MaxAttempts: 2, BaseDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond},
			Status: status.PublisherFunc(func(ev status.Event) {
				q.Status().Publish(ev)
				if ours(ev) {
					settled <- ev.JobID
				}
			}),
			Logger: logger,
			Handler: func(ctx context.Context, qj queue.Job) error {
				var j protocol.Job
				if err := json.Unmarshal(qj.Payload, &j); err != nil {
					return faults.Permanentf("job %s: decode payload: %w", qj.ID, err)
				}
				if recovered.Load() {
					j.FlakyAttempts = 0
				}
				act := runJob
				if !strings.HasPrefix(qj.ID, runID+"-") {
					// Left in the queue by an earlier run that was
					// interrupted: run it, but do not count it.
					act = runLeftover
					fmt.Printf("  job %s: left by an earlier run, delivery %d\n", qj.ID, qj.Attempt)
				}
				res, err := act.Run(ctx, &action.JobInfo{JobID: qj.ID, WorkerID: "jobs-host", Headers: qj.Headers}, j)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					outcomes[qj.ID] = outcome{class: faults.ClassOf(err), attempts: qj.Attempt}
					return err
				}
				fmt.Printf("  job %s: %s by pid %d (attempt %d)\n", qj.ID, res.Output, res.Worker, qj.Attempt)
				outcomes[qj.ID] = outcome{completed: true, pid: res.Worker, attempts: qj.Attempt}
				return nil
			},
		})
	}()
	defer func() { stopConsume(); <-consumed }()

	// Enqueue this run's jobs; PENDING shows them on the page at once.
	ids := make([]string, o.jobs)
	for i := range o.jobs {
		j := script(runID, i)
		ids[i] = j.ID
		payload, err := json.Marshal(j)
		if err != nil {
			return err
		}
		headers := map[string]string{shared.TraceParentHeader: traceparent(i)}
		q.Status().Publish(status.Event{JobID: j.ID, Status: status.Pending, Time: time.Now(), Headers: headers})
		if _, err := q.Enqueue(ctx, queue.Job{ID: j.ID, Type: jobType, Payload: payload, Headers: headers}); err != nil {
			return err
		}
		time.Sleep(o.pace)
	}
	fmt.Printf("enqueued %d jobs (run %s)\n", o.jobs, runID)
	if err := waitSettled(ctx, c, settled, ids); err != nil {
		return err
	}

	mu.Lock()
	got := maps.Clone(outcomes)
	mu.Unlock()
	all, err := q.DeadLetters().List(ctx)
	if err != nil {
		return err
	}
	var mine []action.Entry
	for _, e := range all {
		if strings.HasPrefix(e.JobID, runID+"-") {
			mine = append(mine, e)
		}
	}
	completed := 0
	for _, id := range ids {
		if got[id].completed {
			completed++
		}
	}
	planned, invalid, tooFlaky := 0, 0, 0
	for i := range o.jobs {
		switch expect(script(runID, i)) {
		case faults.Permanent:
			planned++
			invalid++
		case faults.Transient:
			planned++
			tooFlaky++
		}
	}
	fmt.Printf("%d jobs: %d completed, %d dead-lettered (%d failures planned by the script)\n", o.jobs, completed, len(mine), planned)
	checkOutcomes(c, runID, o.jobs, got, mine, pids)
	for _, e := range mine {
		fmt.Printf("  (expected) dead letter %s: job %s, %d attempt(s):\n", e.ID, e.JobID, e.Attempts)
		for i, err := range e.Errors {
			fmt.Printf("    attempt %d: %s: %v\n", i+1, faults.ClassOf(err), err)
		}
	}

	// Re-drive the dead letters whose failure was transient, as if the
	// upstream had recovered: each goes back into the queue.
	recovered.Store(true)
	var redriven []string
	for _, e := range mine {
		if faults.ClassOf(e.Err) != faults.Transient {
			continue
		}
		_, err := q.DeadLetters().Redrive(ctx, e.ID)
		c.NoError("re-drive dead letter "+e.ID, err)
		redriven = append(redriven, e.JobID)
	}
	if err := waitSettled(ctx, c, settled, redriven); err != nil {
		return err
	}
	mu.Lock()
	for _, id := range redriven {
		o := outcomes[id]
		fmt.Printf("re-drove job %s: %s\n", id, map[bool]string{true: "completed", false: "failed again"}[o.completed])
		c.That(o.completed, "re-drive of job %s, which failed transiently: completed=%v (class %q), want it to complete", id, o.completed, o.class)
	}
	mu.Unlock()

	// The dead letters of earlier runs are still there, and this run's
	// permanent failures joined them.
	after, err := q.DeadLetters().List(ctx)
	if err != nil {
		return err
	}
	if len(earlier)+invalid <= maxDeadLetters {
		for _, e := range earlier {
			c.That(slices.ContainsFunc(after, func(a action.Entry) bool { return a.ID == e.ID }), "dead letter %s (job %s) of an earlier run is gone", e.ID, e.JobID)
		}
		kept := 0
		for _, e := range after {
			if strings.HasPrefix(e.JobID, runID+"-") {
				kept++
			}
		}
		c.That(kept == invalid, "%d dead letters of this run kept after the re-drives, want its %d permanent failures", kept, invalid)
	}
	// The page's gauges. Jobs an interrupted earlier run left in flight
	// are re-delivered after the queue's AckWait, so in flight need not
	// be 0 here.
	gauges, err := q.Gauges(ctx)
	c.That(err == nil && len(gauges) == 3, "queue gauges %v, %v: want depth, in flight and dead letters", gauges, err)
	var line []string
	for _, g := range gauges {
		line = append(line, fmt.Sprintf("%s %d", g.Name, g.Value))
	}
	fmt.Printf("queue: %s (run again: the dead letters are read back first)\n", strings.Join(line, ", "))

	snap := counters.Snapshot()
	fmt.Printf("errors by class: %v\n", snap.Errors)
	// A permanent failure fails once; a too-flaky job fails on each of its
	// 2 deliveries; the re-drives complete.
	c.That(snap.Errors[faults.Permanent] == uint64(invalid) && snap.Errors[faults.Transient] == uint64(2*tooFlaky) && len(snap.Errors) <= 2,
		"errors by class %v, want permanent:%d transient:%d (one per delivery that failed; the re-drives complete)", snap.Errors, invalid, 2*tooFlaky)
	// The page's hub got every job's end through the queue.
	if err := waitSettled(ctx, c, onPage, ids); err != nil {
		return err
	}
	st := hub.Stats()
	fmt.Printf("hub: %d events published, %d subscribers dropped\n", st.Published, st.Dropped)
	c.That(st.Published >= uint64(o.jobs) && st.Dropped == 0, "hub: %d events published, %d subscribers dropped, want at least %d published and none dropped", st.Published, st.Dropped, o.jobs)

	if o.linger > 0 {
		fmt.Printf("keeping the status page up for %v (Ctrl-C to stop)\n", o.linger)
		select {
		case <-time.After(o.linger):
		case <-ctx.Done():
		}
	}
	return nil
}

// waitSettled waits until every job in ids has COMPLETED or FAILED (been
// dead-lettered), bounded by settleTimeout; a job that did not is a failed
// check.
func waitSettled(ctx context.Context, c *check.Checker, settled <-chan string, ids []string) error {
	left := make(map[string]bool, len(ids))
	for _, id := range ids {
		left[id] = true
	}
	timeout := time.NewTimer(settleTimeout)
	defer timeout.Stop()
	for len(left) > 0 {
		select {
		case id := <-settled:
			delete(left, id)
		case <-timeout.C:
			var rest []string
			for id := range left {
				rest = append(rest, id)
			}
			slices.Sort(rest)
			c.That(false, "jobs %v did not end within %v", rest, settleTimeout)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// outcome is how one job's last delivery ended.
type outcome struct {
	completed bool
	pid       int          // the worker that completed it
	class     faults.Class // why it failed
	attempts  int          // its delivery
}

// expect returns how job j must end: "" when it completes, else the class
// of its final error. The worker retries a transient failure up to 3 times
// in all; the queue delivers a job up to 2 times.
func expect(j protocol.Job) faults.Class {
	switch {
	case j.Invalid:
		return faults.Permanent
	case j.FlakyAttempts >= 3:
		return faults.Transient
	}
	return ""
}

// checkOutcomes checks that every job of the run ended as its script says:
// completed by one of the pool's workers, or dead-lettered with its class
// after one delivery (permanent: never retried) or two (transient:
// delivered again once).
func checkOutcomes(c *check.Checker, runID string, nJobs int, got map[string]outcome, dead []action.Entry, pids []int) {
	entries := make(map[string]action.Entry)
	for _, e := range dead {
		entries[e.JobID] = e
	}
	for i := range nJobs {
		j := script(runID, i)
		o, ok := got[j.ID]
		if !c.That(ok, "job %s has no result", j.ID) {
			continue
		}
		e, inDead := entries[j.ID]
		switch want := expect(j); want {
		case "":
			c.That(o.completed && slices.Contains(pids, o.pid) && !inDead,
				"job %s: completed=%v by pid %d (dead-lettered: %v), want completed by one of %v", j.ID, o.completed, o.pid, inDead, pids)
		default:
			attempts := 1
			if want == faults.Transient {
				attempts = 2
			}
			c.That(!o.completed && o.class == want && inDead && e.Attempts == attempts && len(e.Errors) == attempts && faults.ClassOf(e.Err) == want,
				"job %s: completed=%v class %q, dead-lettered %v after %d attempts with %d errors, want failed %q and dead-lettered after %d",
				j.ID, o.completed, o.class, inDead, e.Attempts, len(e.Errors), want, attempts)
		}
	}
	c.That(len(dead) == len(entries), "%d dead letters for %d jobs, want one per failed job", len(dead), len(entries))
}

// script decides how job i of a run behaves, so every path shows.
func script(runID string, i int) protocol.Job {
	j := protocol.Job{ID: fmt.Sprintf("%s-job-%02d", runID, i+1), Input: fmt.Sprintf("order %d", i+1), WorkMillis: 30 + (i*17)%90}
	switch i % 8 {
	case 2, 5:
		j.FlakyAttempts = 1 + i%2 // absorbed by the worker's retry
	case 3:
		j.Invalid = true // permanent: never retried, dead-lettered
	case 7:
		j.FlakyAttempts = 5 // too flaky: the queue delivers it again, then dead-letters it
	}
	return j
}

func traceparent(i int) string {
	return fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
}
