// Command jobs runs a stream of jobs through worker processes and shows
// their status live on a web page.
//
// Each worker runs a job as a pipeline of actions (fetch, validate,
// transform). Some jobs fail transiently and the worker's retry absorbs it;
// some fail transiently too often and the host re-dispatches them; some fail
// permanently and are never retried. Jobs that fail for good land in a
// dead-letter sink with every attempt's error, and one is re-driven. Status
// events raised inside the workers travel to the host's hub and from there
// over WebSocket to the page.
//
// It checks that every job ended as its script says (completed, or
// dead-lettered after the expected attempts with the expected class), that
// the re-drives complete, and the error counters; it exits with status 1
// if one is not what it expects.
//
//	go build -o bin/jobs-worker ./examples/jobs/worker
//	go run ./examples/jobs -worker bin/jobs-worker            # runs and exits
//	go run ./examples/jobs -worker bin/jobs-worker -linger 10m # keeps the page up
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/jobs/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/host/statushub"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

func main() {
	var (
		workerPath = flag.String("worker", "bin/jobs-worker", "path to the jobs worker binary")
		workers    = flag.Int("workers", 2, "worker processes")
		jobs       = flag.Int("jobs", 24, "jobs to run")
		addr       = flag.String("addr", "127.0.0.1:0", "address of the status page")
		pace       = flag.Duration("pace", 60*time.Millisecond, "delay between job submissions, so the page shows changes")
		linger     = flag.Duration("linger", 0, "keep the status page up this long after the jobs finish (Ctrl-C ends it)")
		verbose    = flag.Bool("v", false, "show the host's and workers' log records")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	level := hclog.Off
	if *verbose {
		level = hclog.Info
	}
	c := check.New()
	err := run(ctx, c, *workerPath, *workers, *jobs, *addr, *pace, *linger, level)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobs:", err)
		os.Exit(1)
	}
	c.Exit()
}

func run(ctx context.Context, c *check.Checker, workerPath string, nWorkers, nJobs int, addr string, pace, linger time.Duration, level hclog.Level) error {
	logger := hclog.New(&hclog.LoggerOptions{Name: "jobs", Level: level, Output: os.Stderr})

	// The hub fans status events out to WebSocket clients; it never blocks
	// the jobs.
	hub, err := statushub.NewHub(statushub.HubConfig{Logger: logger})
	if err != nil {
		return err
	}
	defer hub.Close()
	ws, err := statushub.NewEndpoint(hub, statushub.EndpointConfig{})
	if err != nil {
		return err
	}
	defer ws.Close()
	mux := http.NewServeMux()
	mux.Handle("/", statushub.PageHandler("ws"))
	mux.Handle("/ws", ws)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Printf("status page: http://%s/\n", ln.Addr())

	// Launch the workers; their status events go straight to the hub.
	var pool []*host.Worker
	for i := range nWorkers {
		w, err := host.Start(ctx, host.Config{
			Cmd:       exec.Command(workerPath),
			Handshake: protocol.Handshake,
			Name:      fmt.Sprintf("jobs-%d", i+1),
			Logger:    logger,
			LogLevel:  level,
			Status:    hub,
		})
		if err != nil {
			return err
		}
		defer w.Close()
		pool = append(pool, w)
	}
	fmt.Printf("started %d workers\n", len(pool))

	// The host's side of a job: dispatch to a worker, re-dispatch when the
	// worker gives up on a transient failure, dead-letter what fails for
	// good. Permanent errors keep their class across the process boundary,
	// so retry does not re-dispatch them.
	var next atomic.Int64
	dispatch := action.New("dispatch", func(ctx context.Context, ac *action.JobInfo, job protocol.Job) (protocol.Result, error) {
		w := pool[int(next.Add(1))%len(pool)]
		return host.Call(shared.WithHeaders(ctx, ac.Headers), w, protocol.Run, job)
	})
	dead, err := action.NewDeadLetter(action.DeadLetterConfig{MaxEntries: 100,
		OnDeadLetter: func(e action.Entry) {
			fmt.Printf("  (expected) dead letter: job %s after %d attempts\n", e.JobID, e.Attempts)
		}})
	if err != nil {
		return err
	}
	counters := &action.Counters{}
	job := action.Wrap(dispatch,
		action.WithDeadLetter(dead),
		action.WithErrorHandling(action.ErrorHandlingConfig{Logger: logger, Counters: counters}),
		action.WithRetry(retry.Policy{MaxAttempts: 2, BaseDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond}),
	)

	results := make(map[string]string)
	outcomes := make(map[string]outcome) // what each job did, to check
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range nJobs {
		j := script(i)
		headers := map[string]string{shared.TraceParentHeader: traceparent(i)}
		hub.Publish(status.Event{JobID: j.ID, Status: status.Pending, Time: time.Now(), Headers: headers})
		time.Sleep(pace)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ac := &action.JobInfo{JobID: j.ID, WorkerID: "host", Status: hub, Headers: headers}
			res, err := job.Run(ctx, ac, j)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				results[j.ID] = fmt.Sprintf("failed (%s): %v", faults.ClassOf(err), err)
				outcomes[j.ID] = outcome{class: faults.ClassOf(err)}
				return
			}
			results[j.ID] = fmt.Sprintf("%s by pid %d", res.Output, res.Worker)
			outcomes[j.ID] = outcome{completed: true, pid: res.Worker}
		}()
	}
	wg.Wait()

	completed, failed := 0, 0
	for _, r := range results {
		if strings.HasPrefix(r, "failed") {
			failed++
		} else {
			completed++
		}
	}
	planned := 0
	for i := range nJobs {
		if expect(script(i)) != "" {
			planned++
		}
	}
	fmt.Printf("%d jobs: %d completed, %d failed (%d failures planned by the script)\n", nJobs, completed, failed, planned)
	var pids []int
	for _, w := range pool {
		pids = append(pids, w.PID())
	}
	checkOutcomes(c, nJobs, outcomes, dead.List(), pids)
	for _, e := range dead.List() {
		fmt.Printf("dead letter %s (job %s), %d attempt(s):\n", e.ID, e.JobID, e.Attempts)
		for i, err := range e.Errors {
			fmt.Printf("  attempt %d: %v\n", i+1, err)
		}
	}

	// Re-drive the dead letters whose failure was transient, as if the
	// upstream had recovered.
	for _, e := range dead.List() {
		in := e.Input.(protocol.Job)
		if in.Invalid {
			continue
		}
		in.FlakyAttempts = 0
		err := dead.Redrive(ctx, e.ID, func(ctx context.Context, e action.Entry) error {
			_, err := job.Run(ctx, &action.JobInfo{JobID: in.ID, WorkerID: "host", Status: hub}, in)
			return err
		})
		fmt.Printf("re-drove job %s: %v\n", in.ID, errOK(err))
		c.That(err == nil, "re-drive of job %s, which failed transiently: %v, want it to complete", in.ID, err)
	}
	snap := counters.Snapshot()
	st := hub.Stats()
	fmt.Printf("errors by class: %v; hub: %d events published, %d subscribers dropped\n", snap.Errors, st.Published, st.Dropped)
	var invalid, tooFlaky uint64
	for i := range nJobs {
		switch expect(script(i)) {
		case faults.Permanent:
			invalid++
		case faults.Transient:
			tooFlaky++
		}
	}
	c.That(snap.Errors[faults.Permanent] == invalid && snap.Errors[faults.Transient] == tooFlaky && len(snap.Errors) <= 2,
		"errors by class %v, want permanent:%d transient:%d (one per failed job; the re-drives complete)", snap.Errors, invalid, tooFlaky)
	c.That(st.Published >= uint64(nJobs) && st.Dropped == 0, "hub: %d events published, %d subscribers dropped, want at least %d published and none dropped", st.Published, st.Dropped, nJobs)

	if linger > 0 {
		fmt.Printf("keeping the status page up for %v (Ctrl-C to stop)\n", linger)
		select {
		case <-time.After(linger):
		case <-ctx.Done():
		}
	}
	return nil
}

// outcome is how one job ended.
type outcome struct {
	completed bool
	pid       int          // the worker that completed it
	class     faults.Class // why it failed
}

// expect returns how job j must end: "" when it completes, else the class
// of its final error. The worker retries a transient failure up to 3 times
// in all; the host dispatches a job up to 2 times.
func expect(j protocol.Job) faults.Class {
	switch {
	case j.Invalid:
		return faults.Permanent
	case j.FlakyAttempts >= 3:
		return faults.Transient
	}
	return ""
}

// checkOutcomes checks that every job ended as its script says: completed
// by one of the pool's workers, or dead-lettered with its class after one
// attempt (permanent: never re-dispatched) or two (transient: re-dispatched
// once).
func checkOutcomes(c *check.Checker, nJobs int, got map[string]outcome, dead []action.Entry, pids []int) {
	entries := make(map[string]action.Entry)
	for _, e := range dead {
		entries[e.JobID] = e
	}
	for i := range nJobs {
		j := script(i)
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
			c.That(!o.completed && o.class == want && inDead && e.Attempts == attempts,
				"job %s: completed=%v class %q, dead-lettered %v after %d attempts, want failed %q and dead-lettered after %d",
				j.ID, o.completed, o.class, inDead, e.Attempts, want, attempts)
		}
	}
	c.That(len(dead) == len(entries) && len(entries) <= nJobs, "%d dead letters for %d jobs, want one per failed job", len(dead), len(entries))
}

// script decides how job i behaves, so every path shows.
func script(i int) protocol.Job {
	j := protocol.Job{ID: fmt.Sprintf("job-%02d", i+1), Input: fmt.Sprintf("order %d", i+1), WorkMillis: 30 + (i*17)%90}
	switch i % 8 {
	case 2, 5:
		j.FlakyAttempts = 1 + i%2 // absorbed by the worker's retry
	case 3:
		j.Invalid = true // permanent: never retried, dead-lettered
	case 7:
		j.FlakyAttempts = 5 // too flaky: the host re-dispatches, then dead-letters
	}
	return j
}

func traceparent(i int) string {
	return fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
}

func errOK(err error) string {
	if err == nil {
		return "completed"
	}
	var re *shared.RemoteError
	if errors.As(err, &re) {
		return "failed again: " + re.Message
	}
	return "failed again: " + err.Error()
}
