package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// poolEvents collects a pool's events and lets a test wait for one.
type poolEvents struct {
	mu     sync.Mutex
	all    []host.PoolEvent
	notify chan struct{}
}

func newPoolEvents() *poolEvents { return &poolEvents{notify: make(chan struct{})} }

func (e *poolEvents) on(ev host.PoolEvent) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	close(e.notify)
	e.notify = make(chan struct{})
	e.mu.Unlock()
}

// wait returns the first event (from the start) that match accepts,
// waiting for it up to 20 s.
func (e *poolEvents) wait(t *testing.T, what string, match func(host.PoolEvent) bool) host.PoolEvent {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		e.mu.Lock()
		for _, ev := range e.all {
			if match(ev) {
				e.mu.Unlock()
				return ev
			}
		}
		ch := e.notify
		e.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("timed out waiting for pool event: %s; got %v", what, e.kinds())
		}
	}
}

func (e *poolEvents) count(match func(host.PoolEvent) bool) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if match(ev) {
			n++
		}
	}
	return n
}

func (e *poolEvents) kinds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, fmt.Sprintf("%v(%s,%s)", ev.Kind, ev.Worker, ev.Reason))
	}
	return out
}

// poolConfig returns a pool config for the test worker with args, and
// its event log.
func poolConfig(t *testing.T, size int, args ...string) (host.PoolConfig, *poolEvents) {
	t.Helper()
	ev := newPoolEvents()
	return host.PoolConfig{
		Worker: host.Config{
			Cmd:       exec.Command(bins["testworker"], args...),
			Handshake: testproto.Handshake,
			Name:      "pw",
			Logger:    hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Error, Output: os.Stderr}),
		},
		Size:    size,
		OnEvent: ev.on,
	}, ev
}

func startPool(t *testing.T, cfg host.PoolConfig) *host.Pool {
	t.Helper()
	p, err := host.NewPool(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func pids(p *host.Pool, st host.WorkerState) map[int]bool {
	out := map[int]bool{}
	for _, w := range p.Workers() {
		if w.State == st {
			out[w.PID] = true
		}
	}
	return out
}

// TestPoolLeastLoadedAndQueue checks that a call goes to the worker with
// the fewest calls in flight, that MaxInFlight makes calls queue, and that
// a call past MaxQueue fails at once with ErrPoolQueueFull.
func TestPoolLeastLoadedAndQueue(t *testing.T) {
	cfg, _ := poolConfig(t, 2)
	cfg.MaxInFlight, cfg.MaxQueue = 1, 1
	started := make(chan string, 4)
	cfg.Worker.OnEvent = func(ev host.ReceivedEvent) {
		if v, ok, _ := host.DecodeEvent(ev, testproto.Started); ok {
			started <- v
		}
	}
	p := startPool(t, cfg)
	ctx := ctxT(t)

	// A long call occupies one worker; its pid is the worker it runs on.
	sleepCtx, stopSleep := context.WithCancel(ctx)
	defer stopSleep()
	sleeping := make(chan error, 2)
	go func() { _, err := host.Call(sleepCtx, p, testproto.Sleep, 60_000); sleeping <- err }()
	<-started
	var busy int
	for _, w := range p.Workers() {
		if w.InFlight == 1 {
			busy = w.PID
		}
	}
	for i := range 5 {
		pid, err := host.Call(ctx, p, testproto.Pid, "")
		if err != nil {
			t.Fatalf("Call(Pid) #%d: %v", i, err)
		}
		if pid == busy {
			t.Fatalf("Call(Pid) #%d ran on the busy worker %d, want the idle one", i, pid)
		}
	}

	// Both workers busy: the next call queues, the one after overflows.
	go func() { _, err := host.Call(sleepCtx, p, testproto.Sleep, 60_000); sleeping <- err }()
	<-started
	queued := make(chan error, 1)
	go func() { _, err := host.Call(ctx, p, testproto.Pid, ""); queued <- err }()
	eventually(t, "a queued call", func() bool { return p.Stats().Queued == 1 })
	_, err := host.Call(ctx, p, testproto.Pid, "")
	if !errors.Is(err, host.ErrPoolQueueFull) {
		t.Fatalf("Call with a full queue = %v, want ErrPoolQueueFull", err)
	}
	stopSleep()
	if err := <-queued; err != nil {
		t.Fatalf("queued Call(Pid) = %v, want it served once a worker had room", err)
	}
	<-sleeping
	<-sleeping
	s := p.Stats()
	if s.Calls[host.OutcomeQueueFull] != 1 || s.QueueWaits < 1 {
		t.Errorf("Stats() = %+v, want 1 queue_full call and a queue wait", s)
	}
}

// TestPoolCrashReplacedRejectAndRetry checks that a worker that dies is
// replaced one for one, that a call on it fails with an *ExitError naming
// it (Reject, the default), and that a message with WithCrashRetry is
// re-sent to another worker.
func TestPoolCrashReplacedRejectAndRetry(t *testing.T) {
	cfg, ev := poolConfig(t, 2)
	p := startPool(t, cfg)
	ctx := ctxT(t)

	_, err := host.Call(ctx, p, testproto.Kill, "")
	var ee *host.ExitError
	if !errors.As(err, &ee) || ee.Signal != "killed" || !strings.Contains(err.Error(), ee.Name) {
		t.Fatalf("Call(Kill) = %v, want an *ExitError naming the worker, killed by a signal", err)
	}
	ev.wait(t, "the crashed worker's replacement", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerStarted && e.Reason == host.ReasonCrash
	})
	if s := p.Stats(); s.Restarts[host.ReasonCrash] != 1 || s.Calls[host.OutcomeCrash] != 1 {
		t.Errorf("Stats() = %+v, want 1 crash restart and 1 crashed call", s)
	}

	// Retry: the first worker the call reaches dies (Kill), the retry runs
	// on another one, which dies too: after 1 retry the call fails.
	_, err = host.Call(ctx, p, testproto.Kill.WithCrashRetry(1), "")
	if !errors.As(err, &ee) {
		t.Fatalf("Call(Kill.WithCrashRetry(1)) = %v, want an *ExitError", err)
	}
	if s := p.Stats(); s.CrashRetries != 1 {
		t.Errorf("Stats().CrashRetries = %d, want 1", s.CrashRetries)
	}
	for i := range 4 {
		if got, err := host.Call(ctx, p, testproto.Ping, "x"); err != nil || got != "pong:x" {
			t.Fatalf("Call(Ping) #%d after the crashes = %q, %v", i, got, err)
		}
	}
}

// TestPoolIntensityLimit checks that past MaxRestarts in RestartWindow the
// pool fails: calls fail with a *PoolFailedError that also carries the
// last exit, State says so, and OnEvent hears it.
func TestPoolIntensityLimit(t *testing.T) {
	cfg, ev := poolConfig(t, 1)
	cfg.MaxRestarts, cfg.RestartWindow = 2, time.Minute
	cfg.Restart.BaseDelay, cfg.Restart.MaxDelay = time.Millisecond, 5*time.Millisecond
	p := startPool(t, cfg)
	ctx := ctxT(t)
	for i := range 3 {
		if _, err := host.Call(ctx, p, testproto.Crash, 7); err == nil {
			t.Fatalf("Call(Crash) #%d succeeded", i)
		}
	}
	fe := ev.wait(t, "pool failed", func(e host.PoolEvent) bool { return e.Kind == host.EventPoolFailed })
	if !errors.Is(fe.Err, host.ErrPoolFailed) {
		t.Errorf("EventPoolFailed.Err = %v, want ErrPoolFailed", fe.Err)
	}
	if st := p.State(); st != host.PoolFailed {
		t.Errorf("State() = %v, want failed", st)
	}
	_, err := host.Call(ctx, p, testproto.Ping, "x")
	var pf *host.PoolFailedError
	var ee *host.ExitError
	if !errors.As(err, &pf) || !errors.As(err, &ee) || ee.ExitCode != 7 {
		t.Fatalf("Call on a failed pool = %v, want a *PoolFailedError with the last *ExitError (status 7)", err)
	}
	if n := ev.count(func(e host.PoolEvent) bool { return e.Kind == host.EventWorkerExited && e.Reason == host.ReasonCrash }); n != 3 {
		t.Errorf("crash exits = %d, want 3", n)
	}
}

// TestPoolStartupFailureGuard checks that a command that cannot start
// fails NewPool at once with the typed cause, without a respawn loop.
func TestPoolStartupFailureGuard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(error) bool
	}{
		{"exits before ready", []string{"-exit-at-start", "3"}, func(err error) bool {
			var ee *host.ExitError
			return errors.As(err, &ee) && ee.ExitCode == 3
		}},
		{"version mismatch", []string{"-versions", "9"}, func(err error) bool {
			var ve *handshake.VersionMismatchError
			return errors.As(err, &ve)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, ev := poolConfig(t, 3, tc.args...)
			p, err := host.NewPool(ctxT(t), cfg)
			if err == nil {
				p.Close()
				t.Fatal("NewPool succeeded, want an error")
			}
			if !tc.check(err) {
				t.Fatalf("NewPool = %v, want the typed start-up failure", err)
			}
			if n := len(ev.kinds()); n != 0 {
				t.Errorf("events = %v, want none (nothing started, nothing respawned)", ev.kinds())
			}
		})
	}
}

// TestPoolHealthReplacesStoppedWorker stops a worker (SIGSTOP): its pings
// go unanswered, and after HealthFailures of them it is marked unhealthy,
// killed and replaced, while calls keep working on the other one.
func TestPoolHealthReplacesStoppedWorker(t *testing.T) {
	cfg, ev := poolConfig(t, 2)
	cfg.HealthInterval, cfg.HealthFailures = 50*time.Millisecond, 3
	p := startPool(t, cfg)
	ctx := ctxT(t)
	victim := p.Workers()[0]
	if err := stopPID(victim.PID); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "unhealthy", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerUnhealthy && e.PID == victim.PID
	})
	ev.wait(t, "unhealthy worker exited", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerExited && e.PID == victim.PID && e.Reason == host.ReasonUnhealthy
	})
	ev.wait(t, "replacement", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerStarted && e.Reason == host.ReasonUnhealthy
	})
	for i := range 4 {
		if _, err := host.Call(ctx, p, testproto.Ping, "x"); err != nil {
			t.Fatalf("Call(Ping) #%d: %v", i, err)
		}
	}
	if pids(p, host.WorkerReady)[victim.PID] {
		t.Errorf("stopped worker %d still in the pool", victim.PID)
	}
}

// TestPoolRecycleMaxCalls checks that a worker is replaced after MaxCalls
// calls without failing one.
func TestPoolRecycleMaxCalls(t *testing.T) {
	cfg, _ := poolConfig(t, 2)
	cfg.MaxCalls = 5
	p := startPool(t, cfg)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var failed atomic.Int64
	perPID := sync.Map{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				pid, err := host.Call(ctx, p, testproto.Pid, "")
				if err != nil {
					t.Errorf("Call(Pid): %v", err)
					failed.Add(1)
					continue
				}
				n, _ := perPID.LoadOrStore(pid, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}()
	}
	wg.Wait()
	perPID.Range(func(pid, n any) bool {
		if c := n.(*atomic.Int64).Load(); c > 5 {
			t.Errorf("worker %d ran %d calls, want at most MaxCalls 5", pid, c)
		}
		return true
	})
	if s := p.Stats(); s.Restarts[host.ReasonMaxCalls] < 6 || s.Calls[host.OutcomeOK] != 40 {
		t.Errorf("Stats() = %+v, want at least 6 max-calls restarts and 40 ok calls", s)
	}
}

// TestPoolRecycleMaxMemory checks that a worker whose RSS passes MaxMemory
// is drained and replaced, and only that one.
func TestPoolRecycleMaxMemory(t *testing.T) {
	cfg, ev := poolConfig(t, 2)
	// Memory is checked on every health tick: a short tick finds the fat
	// worker soon. Touching 200 MiB (under -race, on a loaded machine) can
	// keep the worker from answering pings for longer than a few such ticks,
	// which is not what this test is about, so misses are allowed plenty.
	cfg.HealthInterval, cfg.HealthFailures = 20*time.Millisecond, 500
	// The limit: 100 MiB above the largest idle worker.
	probe := startPool(t, cfg)
	var base uint64
	for _, w := range probe.Workers() {
		rss, err := proc.RSS(w.PID)
		if err != nil {
			t.Fatal(err)
		}
		base = max(base, rss)
	}
	probe.Close()
	cfg.MaxMemory = base + 100<<20
	p := startPool(t, cfg)
	ctx := ctxT(t)
	fat, err := host.Call(ctx, p, testproto.Hold, 200)
	if err != nil {
		t.Fatalf("Call(Hold): %v", err)
	}
	ev.wait(t, "recycled", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerExited && e.PID == fat && e.Reason == host.ReasonMaxMemory
	})
	ev.wait(t, "replacement", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerStarted && e.Reason == host.ReasonMaxMemory
	})
	if n := ev.count(func(e host.PoolEvent) bool {
		return e.Reason == host.ReasonMaxMemory && e.Kind == host.EventWorkerExited
	}); n != 1 {
		t.Errorf("max-memory exits = %d, want 1 (only the worker that grew); events %v", n, ev.kinds())
	}
}

// TestPoolUpgradeUnderLoad upgrades a pool to a new command while callers
// keep calling: no call fails, and afterwards every worker runs the new
// command.
func TestPoolUpgradeUnderLoad(t *testing.T) {
	cfg, _ := poolConfig(t, 2)
	p := startPool(t, cfg)
	ctx := ctxT(t)
	before := pids(p, host.WorkerReady)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				in := fmt.Sprintf("%d-%d", i, n)
				got, err := host.Call(ctx, p, testproto.Ping, in)
				if err != nil || got != "pong:"+in {
					failed.Add(1)
					t.Errorf("Call(Ping %q) during upgrade = %q, %v", in, got, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	// Let calls flow before, during and after.
	eventually(t, "calls before the upgrade", func() bool { return ok.Load() > 50 })
	err := p.Upgrade(ctx, func() *exec.Cmd { return exec.Command(bins["testworker"], "-stdout-lines", "0") })
	if err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
	mark := ok.Load()
	eventually(t, "calls after the upgrade", func() bool { return ok.Load() > mark+50 })
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed during the upgrade", failed.Load())
	}
	after := pids(p, host.WorkerReady)
	for pid := range after {
		if before[pid] {
			t.Errorf("worker %d from before the upgrade still serves", pid)
		}
	}
	if len(after) != 2 {
		t.Errorf("ready workers after upgrade = %d, want 2", len(after))
	}
	// A failed upgrade keeps the old workers.
	err = p.Upgrade(ctx, func() *exec.Cmd { return exec.Command(bins["testworker"], "-exit-at-start", "4") })
	var ee *host.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Upgrade to a command that exits = %v, want its *ExitError", err)
	}
	if got := pids(p, host.WorkerReady); len(got) != 2 || !mapsEqual(got, after) {
		t.Errorf("workers after a failed upgrade = %v, want the old ones %v", got, after)
	}
}

func mapsEqual(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestPoolElasticAndResize checks scale-up when calls queue, scale-down
// after IdleTimeout, and Resize; and that Shutdown lets a running call
// finish.
func TestPoolElasticAndResize(t *testing.T) {
	cfg, ev := poolConfig(t, 0)
	cfg.Min, cfg.Max, cfg.MaxInFlight = 1, 3, 1
	cfg.IdleTimeout, cfg.HealthInterval = 50*time.Millisecond, 20*time.Millisecond
	p := startPool(t, cfg)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := host.Call(ctx, p, testproto.Sleep, 300); err != nil {
				t.Errorf("Call(Sleep): %v", err)
			}
		}()
	}
	wg.Wait()
	if n := ev.count(func(e host.PoolEvent) bool { return e.Reason == host.ReasonScaleUp }); n != 2 {
		t.Errorf("scale-up starts = %d, want 2; events %v", n, ev.kinds())
	}
	eventually(t, "scale-down to Min", func() bool { return len(pids(p, host.WorkerReady)) == 1 })

	if err := p.Resize(ctx, 3); err != nil {
		t.Fatalf("Resize(3): %v", err)
	}
	if n := len(pids(p, host.WorkerReady)); n != 3 {
		t.Fatalf("ready workers after Resize(3) = %d", n)
	}
	if err := p.Resize(ctx, 1); err != nil {
		t.Fatalf("Resize(1): %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := host.Call(ctx, p, testproto.Sleep, 200); done <- err }()
	eventually(t, "a call in flight", func() bool { return p.Stats().InFlight == 1 })
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("call running at Shutdown = %v, want it to finish", err)
	}
	if _, err := host.Call(ctx, p, testproto.Ping, "x"); !errors.Is(err, host.ErrPoolClosed) {
		t.Errorf("Call after Shutdown = %v, want ErrPoolClosed", err)
	}
}

// TestPoolSpareAndReplace checks that a warm spare takes a dead worker's
// place at once while a new spare starts, and that Replace swaps every
// worker (spares too) for new ones.
func TestPoolSpareAndReplace(t *testing.T) {
	cfg, ev := poolConfig(t, 1)
	cfg.Spares = 1
	p := startPool(t, cfg)
	ctx := ctxT(t)
	spare := pids(p, host.WorkerSpare)
	if len(spare) != 1 || len(pids(p, host.WorkerReady)) != 1 {
		t.Fatalf("workers = %+v, want 1 ready and 1 spare", p.Workers())
	}
	if _, err := host.Call(ctx, p, testproto.Kill, ""); err == nil {
		t.Fatal("Call(Kill) succeeded")
	}
	pe := ev.wait(t, "spare promoted", func(e host.PoolEvent) bool { return e.Kind == host.EventWorkerPromoted })
	if !spare[pe.PID] {
		t.Errorf("promoted worker %d, want the spare %v", pe.PID, spare)
	}
	pid, err := host.Call(ctx, p, testproto.Pid, "")
	if err != nil || pid != pe.PID {
		t.Fatalf("Call(Pid) after the crash = %d, %v; want the promoted spare %d", pid, err, pe.PID)
	}
	eventually(t, "a new spare", func() bool { return len(pids(p, host.WorkerSpare)) == 1 })

	before := append(p.Workers(), host.PoolWorker{})
	if err := p.Replace(ctx); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	for _, w := range p.Workers() {
		for _, old := range before {
			if w.PID == old.PID {
				t.Errorf("worker %s (pid %d) survived Replace", w.Name, w.PID)
			}
		}
	}
	if st := p.Stats().Workers; st[host.WorkerReady] != 1 || st[host.WorkerSpare] != 1 {
		t.Errorf("Stats().Workers after Replace = %v, want 1 ready and 1 spare", st)
	}
}
