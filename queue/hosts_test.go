package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// The host role: TestMain runs this test binary as a host process when
// hostRoleEnv is set. A host opens the queue (hostURLsEnv: an external
// cluster; hostStoreEnv: an embedded server on that directory), starts a
// host.Pool of hostPoolSize real test workers (hostWorkerEnv), and runs
// Consume over it until its stdin closes. Its handler calls a worker with
// the job's ID, checks the answer, and then reports the job's effect on
// stdout ("effect <id>"), before Consume acknowledges the job: a host
// killed between the two leaves a job whose effect exists and that the
// engine re-delivers, which is what the tests count. It also reports each
// COMPLETED status ("completed <id>") and "ready" once it consumes.
const (
	hostRoleEnv   = "IW_QUEUE_TEST_HOST" // the host's name
	hostURLsEnv   = "IW_QUEUE_TEST_URLS" // comma-separated
	hostStoreEnv  = "IW_QUEUE_TEST_STORE"
	hostWorkerEnv = "IW_QUEUE_TEST_WORKER"

	hostPoolSize  = 2
	hostPerWorker = 4 // jobs one worker runs at once
	hostAckWait   = 2 * time.Second
	// clusterJobs is the 5,000: about 30 s under -race on 2
	// shared cores (IW_TEST_JOBS overrides it).
	clusterJobs  = 5000
	embeddedJobs = 300
	jobsEnv      = "IW_TEST_JOBS"
)

// hostOut serialises the host's report lines: one write per line, so a
// line is whole even when the process is killed.
var hostOut sync.Mutex

func hostReport(kind, id string) {
	hostOut.Lock()
	defer hostOut.Unlock()
	os.Stdout.WriteString(kind + " " + id + "\n")
}

func runHostRole() int {
	name := os.Getenv(hostRoleEnv)
	if err := runHost(name); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "host %s: %v\n", name, err)
		return 1
	}
	return 0
}

func runHost(name string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin) // the test closes stdin to stop the host
		cancel()
	}()

	cfg := Config{StoreDir: os.Getenv(hostStoreEnv)}
	if urls := os.Getenv(hostURLsEnv); urls != "" {
		cfg = Config{URLs: strings.Split(urls, ","), Replicas: 3,
			// Fail over to another node at once when one stops.
			NATSOptions: []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}}
	}
	q, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer q.Close()

	pool, err := host.NewPool(ctx, host.PoolConfig{
		Worker:      host.Config{Cmd: exec.Command(os.Getenv(hostWorkerEnv)), Handshake: testproto.Handshake, Name: name},
		Size:        hostPoolSize,
		MaxInFlight: hostPerWorker,
	})
	if err != nil {
		return err
	}
	defer pool.Close()

	hostReport("ready", name)
	return q.Consume(ctx, ConsumerConfig{
		WorkerID:  name,
		AckWait:   hostAckWait,
		FetchWait: 200 * time.Millisecond,
		Capacity: func() int {
			free := 0
			for _, w := range pool.Workers() {
				if w.State == host.WorkerReady {
					free += hostPerWorker - w.InFlight
				}
			}
			return free
		},
		Status: status.PublisherFunc(func(ev status.Event) {
			q.Status().Publish(ev)
			if ev.Status == status.Completed {
				hostReport("completed", ev.JobID)
			}
		}),
		Handler: func(ctx context.Context, job Job) error {
			hostReport("start", job.ID)
			got, err := host.Call(ctx, pool, testproto.Ping, job.ID)
			if err != nil {
				return err
			}
			if got != "pong:"+job.ID {
				return fmt.Errorf("worker answered %q, want %q", got, "pong:"+job.ID)
			}
			hostReport("effect", job.ID)
			return nil
		},
	})
}

// hostLine is one report line of a host process.
type hostLine struct {
	host, kind, id string
}

// hostProc is a running host process.
type hostProc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error // Wait's result
}

// buildTestWorker builds test/testworker into a temporary directory.
func buildTestWorker(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "testworker")
	cmd := exec.Command("go", "build", "-o", out, "github.com/isolated-workers/isolated-workers-go/test/testworker")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build test worker: %v\n%s", err, b)
	}
	return out
}

// startHost runs this test binary as host name with env, sending its
// report lines to lines. The process is killed at the end of the test if
// it still runs.
func startHost(t *testing.T, name string, env []string, lines chan<- hostLine) *hostProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), hostRoleEnv+"="+name), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start host %s: %v", name, err)
	}
	h := &hostProc{name: name, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			kind, id, _ := strings.Cut(sc.Text(), " ")
			lines <- hostLine{host: name, kind: kind, id: id}
		}
	}()
	go func() {
		<-read // Wait closes stdout: read it all first
		h.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-h.done:
		case <-time.After(testTimeout):
			cmd.Process.Kill()
			<-h.done
		}
	})
	return h
}

// kill9 kills the host process with SIGKILL and waits for it.
func (h *hostProc) kill9(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 host %s: %v", h.name, err)
	}
	<-h.done
	h.done <- nil // for the clean-up
}

// stop closes the host's stdin and waits for it to exit by itself.
func (h *hostProc) stop(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("host %s exited with %v after its stdin closed, want 0", h.name, err)
		}
		h.done <- nil
	case <-time.After(testTimeout):
		t.Fatalf("host %s did not exit within %v after its stdin closed", h.name, testTimeout)
	}
}

// effects is the tests' effect store: the effect of each job, recorded
// idempotently by job ID. A second effect report for a job (the handler
// ran again after a re-delivery) is counted, not applied.
type effects struct {
	applied   map[string]string          // job -> host whose report applied it
	duplicate map[string]int             // job -> reports after the first
	completed map[string]int             // job -> COMPLETED reports
	started   map[string]map[string]bool // host -> jobs its handler started
	byHost    map[string]int             // host -> effects it applied
	ready     map[string]bool
}

func newEffects() *effects {
	return &effects{applied: map[string]string{}, duplicate: map[string]int{}, completed: map[string]int{},
		started: map[string]map[string]bool{}, byHost: map[string]int{}, ready: map[string]bool{}}
}

func (e *effects) record(l hostLine) {
	switch l.kind {
	case "effect":
		if _, ok := e.applied[l.id]; ok {
			e.duplicate[l.id]++
			return
		}
		e.applied[l.id] = l.host
		e.byHost[l.host]++
	case "start":
		if e.started[l.host] == nil {
			e.started[l.host] = map[string]bool{}
		}
		e.started[l.host][l.id] = true
	case "completed":
		e.completed[l.id]++
	case "ready":
		e.ready[l.host] = true
	}
}

// waitUntil records lines until cond holds, failing after testTimeout
// without a line.
func (e *effects) waitUntil(t *testing.T, lines <-chan hostLine, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case l := <-lines:
			e.record(l)
		case <-time.After(testTimeout):
			t.Fatalf("waiting for %s: no report from a host within %v (%d effects so far)", what, testTimeout, len(e.applied))
		}
	}
}

// recordSent records the lines already sent. After a host was killed
// (and its reader hit the end of its output), that is every line it
// wrote.
func (e *effects) recordSent(lines <-chan hostLine) {
	for {
		select {
		case l := <-lines:
			e.record(l)
		default:
			return
		}
	}
}

// inFlight returns the jobs host h started without reporting their
// effect: once h is dead and its lines recorded, the jobs it had not
// acknowledged either (the effect precedes the acknowledgement).
func (e *effects) inFlight(h string) []string {
	var out []string
	for id := range e.started[h] {
		if e.applied[id] != h {
			out = append(out, id)
		}
	}
	return out
}

// check fails the test unless every one of n jobs has its effect, and
// logs the re-deliveries.
func (e *effects) check(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, ok := e.applied[jobID(i)]; !ok {
			t.Errorf("job %s has no effect: lost", jobID(i))
		}
	}
	if len(e.applied) != n {
		t.Errorf("%d jobs have an effect, want %d", len(e.applied), n)
	}
	twice := 0
	for id, c := range e.completed {
		if c > 1 {
			twice++
			t.Logf("job %s reported COMPLETED %d times", id, c)
		}
	}
	redelivered := 0
	for _, c := range e.duplicate {
		redelivered += c
	}
	t.Logf("%d jobs, each applied once; %d re-deliveries ran a handler again for %d jobs (deduplicated by job ID); %d jobs COMPLETED twice or more; %d COMPLETED reports missing; effects by host: %v",
		n, redelivered, len(e.duplicate), twice, n-len(e.completed), e.byHost)
}

func jobID(i int) string { return "job-" + strconv.Itoa(i) }

// enqueueAll enqueues n jobs, 8 at a time.
func enqueueAll(t *testing.T, q *Queue, n int) {
	t.Helper()
	ctx := testContext(t)
	ids := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				if _, err := q.Enqueue(ctx, Job{ID: jobID(i), Type: "t"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	func() {
		defer close(ids)
		for i := range n {
			select {
			case ids <- i:
			case err := <-errs:
				t.Errorf("Enqueue = %v", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Enqueue = %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// checkEmpty fails the test unless the queue holds no job, none in
// flight, and no dead letter.
func checkEmpty(t *testing.T, q *Queue) {
	t.Helper()
	ctx := testContext(t)
	// A cluster may still be electing a stream leader, and a request sent
	// to the killed one is never answered: each attempt gets a few seconds,
	// then it asks again, until the test's bound.
	counts := func() (Counts, error) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return q.Counts(actx)
	}
	c, err := counts()
	for err != nil && ctx.Err() == nil {
		c, err = counts()
	}
	if err != nil {
		t.Fatalf("Counts() = %v", err)
	}
	if c != (Counts{}) {
		t.Errorf("Counts() = %+v after every job ran, want all zero", c)
	}
}
