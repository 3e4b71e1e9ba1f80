package host

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// PoolState is the state of a Pool.
type PoolState int

// States of a pool.
const (
	PoolRunning PoolState = iota
	PoolFailed            // past the intensity limit; calls fail with a *PoolFailedError
	PoolClosing           // Close or Shutdown is draining the workers
	PoolClosed
)

func (s PoolState) String() string {
	switch s {
	case PoolRunning:
		return "running"
	case PoolFailed:
		return "failed"
	case PoolClosing:
		return "closing"
	case PoolClosed:
		return "closed"
	}
	return "unknown"
}

// WorkerState is the state of one worker of a pool.
type WorkerState int

// States of a pool's worker.
const (
	WorkerStarting WorkerState = iota // being started
	WorkerReady                       // takes calls
	WorkerSpare                       // started, held in reserve
	WorkerDraining                    // takes no new calls; stops when its calls are done
	workerGone                        // exited or closed; no longer in the pool
)

func (s WorkerState) String() string {
	switch s {
	case WorkerStarting:
		return "starting"
	case WorkerReady:
		return "ready"
	case WorkerSpare:
		return "spare"
	case WorkerDraining:
		return "draining"
	}
	return "gone"
}

// Pool is a supervised set of workers of one command, and a call target
// like a Worker: Call(ctx, pool, m, req) runs the call on a worker of the
// pool.
//
// # Dispatch
//
// A call goes to the ready worker with the fewest calls in flight (the one
// idle longest among equals), if it has room (MaxInFlight). Otherwise it
// waits in a FIFO queue of at most MaxQueue calls, bounded by its context
// and its deadline (the message's timeout or Worker.CallTimeout); past
// MaxQueue it fails at once with ErrPoolQueueFull. Each attempt runs as a
// Call on that worker: the Worker config's middleware, events and status
// apply per worker.
//
// A stream (Stream(ctx, pool, s, req)) is dispatched like a call, waits in
// the same queue (bounded by ctx only) and counts as one call in flight on
// its worker until its range ends. Streams are never crash-retried: a
// crash ends the range with the *ExitError.
//
// # Supervision
//
// A worker that exits without being asked (crash, kill, failed health
// check) is replaced one for one: by a spare at once, if there is one,
// else by a new worker, immediately the first time and with backoff when
// the same slot keeps dying (Restart, RestartReset). Past the intensity
// limit (MaxRestarts in RestartWindow) the pool fails: see PoolFailedError.
// The calls that ran on the dead worker fail with its *ExitError, unless
// their message allows crash retries (shared.Message.WithCrashRetry):
// then they are re-sent to another worker, at most that many times, in
// the order their failures are seen, like new calls: a retried call may
// run after calls sent after it, and its handler may have run on the dead
// worker already. Workers recycled for MaxMemory or MaxCalls, stopped by
// Resize, Upgrade or an elastic scale-down finish their calls first: none
// fails.
//
// # Metrics
//
// Stats returns a snapshot of the pool's counters; the same counters feed
// the pool's OpenTelemetry instruments, made with PoolConfig.MeterProvider
// (default: the global one) under the scope MeterName:
// MetricWorkers (by AttrWorkerState), MetricRestarts (by
// AttrRestartReason), MetricCallsInFlight, MetricCallsQueued, MetricCalls
// (by AttrCallOutcome) and MetricCrashRetries, observed when the reader
// collects; MetricWorkerStartDuration, MetricQueueWaitDuration and
// MetricCallDuration (rpc.client.call.duration, with AttrRPCSystemName,
// AttrRPCMethod and, on failure, AttrErrorType), recorded as they happen.
// Every one carries AttrPoolName. The library uses only the OpenTelemetry
// metrics API: the program chooses the SDK and the exporter (see
// examples/pool for Prometheus). After Close the pool reports nothing.
//
// # Concurrency
//
// A Pool is safe for concurrent use. Call, Stats, Workers and State may be
// called from any goroutine; Resize, Replace and Upgrade run one at a time.
// OnEvent runs on one goroutine of the pool's, in the order the
// supervisor saw things, never under the pool's lock. Close and Shutdown
// are idempotent and return after every goroutine and worker the pool
// started has ended; after them Call fails with ErrPoolClosed.
type Pool struct {
	cfg    PoolConfig
	name   string
	ctx    context.Context // cancelled by Close: ends starts and backoff waits
	cancel context.CancelFunc

	upgrade sync.Mutex // one Upgrade or Resize at a time

	mu             sync.Mutex
	state          PoolState
	failErr        error
	members        []*member
	startingActive int // workers being started to take calls
	startingSpare  int // workers being started as spares
	size           int // workers that should take calls
	queue          []*waiter
	seq            int
	gen            int               // command generation; Upgrade bumps it
	newCmd         func() *exec.Cmd  // the current generation's command
	restartTimes   []time.Time       // restarts within RestartWindow
	restarts       map[string]uint64 // by reason
	changed        chan struct{}     // closed and renewed when members or state change
	evq            []PoolEvent       // events for OnEvent
	evSig, evStop  chan struct{}     // wake and stop runEvents
	evDone         chan struct{}     // closed when runEvents has ended
	wg             sync.WaitGroup    // starts and monitors
	ctr            poolCounters      // lock-free counters
	met            *poolMetrics      // OpenTelemetry instruments
	closeOnce      sync.Once         // Shutdown
	closeDone      chan struct{}     // closed when Shutdown has ended
	closeErr       error
}

// member is one worker of the pool and what the pool knows about it.
// Guarded by Pool.mu except w and the channels.
type member struct {
	w        *Worker
	gen      int
	state    WorkerState
	inflight int       // calls dispatched and not released
	calls    int       // calls dispatched in all
	activity uint64    // bumped by every released call
	seen     uint64    // activity at the last health check
	misses   int       // pings unanswered in a row
	lastUsed time.Time // when a call last ended (or the worker started)
	started  time.Time
	crashes  int // restarts in a row of this slot, for the backoff

	unhealthy bool
	dead      bool            // a call saw it die: no new calls until its exit is handled
	reason    string          // why it was retired
	retire    chan struct{}   // closed when retired: the monitor drains it
	drainCtx  context.Context // bounds the drain
	idle      chan struct{}   // closed once retired or gone with no call in flight
	idleDone  bool
}

// NewPool starts the pool's workers in parallel (Size, or Min, plus
// Spares) and returns when all serve. If one fails to start (an executable
// that exits before it is ready, a version or serializer mismatch, the
// StartupTimeout), NewPool stops the others and returns that error at once:
// a command that cannot start is never respawned in a loop. errors.As finds
// the typed cause (*ExitError, *handshake.VersionMismatchError, ...).
func NewPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	p := &Pool{
		cfg:       cfg,
		name:      cfg.Worker.Name,
		size:      cfg.Min,
		newCmd:    cfg.NewCmd,
		restarts:  map[string]uint64{},
		changed:   make(chan struct{}),
		evSig:     make(chan struct{}, 1),
		evStop:    make(chan struct{}),
		evDone:    make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	if p.newCmd == nil {
		tmpl := cfg.Worker.Cmd
		p.newCmd = func() *exec.Cmd { return cloneCmd(tmpl) }
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.met = newPoolMetrics(cfg.MeterProvider, p)
	go p.runEvents()

	ws, err := p.startN(ctx, cfg.Min+cfg.Spares, p.newCmd)
	if err != nil {
		p.cancel()
		p.met.unregister()
		close(p.evStop)
		<-p.evDone
		return nil, fmt.Errorf("start pool %q: %w", p.name, err)
	}
	p.mu.Lock()
	for i, w := range ws {
		role := WorkerReady
		if i >= cfg.Min {
			role = WorkerSpare
		}
		p.addLocked(w, 0, role, 0, ReasonInitial)
	}
	p.mu.Unlock()
	return p, nil
}

// startN starts n workers of newCmd in parallel. If one fails, it closes
// the others and returns the first failure (in worker order).
func (p *Pool) startN(ctx context.Context, n int, newCmd func() *exec.Cmd) ([]*Worker, error) {
	ws := make([]*Worker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws[i], errs[i] = p.startWorker(ctx, newCmd)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, w := range ws {
			if w != nil {
				w.Close()
			}
		}
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
	}
	return ws, nil
}

// startWorker starts one worker of newCmd, named after the pool.
func (p *Pool) startWorker(ctx context.Context, newCmd func() *exec.Cmd) (*Worker, error) {
	p.mu.Lock()
	p.seq++
	id := p.seq
	p.mu.Unlock()
	cfg := p.cfg.Worker
	cfg.Cmd = newCmd()
	cfg.Name = fmt.Sprintf("%s-%d", p.name, id)
	t0 := time.Now()
	w, err := Start(ctx, cfg)
	if err == nil {
		p.met.workerStarted(time.Since(t0))
	}
	return w, err
}

// addLocked makes w a member in role (WorkerReady or WorkerSpare) and
// starts its monitor.
func (p *Pool) addLocked(w *Worker, gen int, role WorkerState, crashes int, reason string) *member {
	now := time.Now()
	m := &member{w: w, gen: gen, state: role, lastUsed: now, started: now, crashes: crashes,
		retire: make(chan struct{}), idle: make(chan struct{})}
	p.members = append(p.members, m)
	p.emitLocked(PoolEvent{Kind: EventWorkerStarted, Worker: w.Name(), PID: w.PID(), Reason: reason})
	p.notifyLocked()
	p.wg.Add(1)
	go p.monitor(m)
	return m
}

// removeLocked takes m out of the pool.
func (p *Pool) removeLocked(m *member) {
	for i, x := range p.members {
		if x == m {
			p.members = append(p.members[:i], p.members[i+1:]...)
			break
		}
	}
	m.state = workerGone
	p.idleLocked(m)
	p.notifyLocked()
}

// idleLocked closes m.idle once m takes no calls and runs none.
func (p *Pool) idleLocked(m *member) {
	if !m.idleDone && m.inflight == 0 && (m.state == WorkerDraining || m.state == workerGone) {
		m.idleDone = true
		close(m.idle)
	}
}

func (p *Pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitFor waits until cond (called under the lock) holds, the pool stops
// running or ctx ends.
func (p *Pool) waitFor(ctx context.Context, what string, cond func() bool) error {
	for {
		p.mu.Lock()
		if cond() {
			p.mu.Unlock()
			return nil
		}
		if err := p.stateErrLocked(); err != nil {
			p.mu.Unlock()
			return err
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("pool %q: waiting for %s: %w", p.name, what, context.Cause(ctx))
		}
	}
}

// stateErrLocked returns why the pool takes no calls, or nil.
func (p *Pool) stateErrLocked() error {
	switch p.state {
	case PoolRunning:
		return nil
	case PoolFailed:
		return p.failErr
	}
	return ErrPoolClosed
}

// countLocked counts the members in state st.
func (p *Pool) countLocked(st WorkerState) int {
	n := 0
	for _, m := range p.members {
		if m.state == st {
			n++
		}
	}
	return n
}

// Name returns the pool's name (PoolConfig.Worker.Name).
func (p *Pool) Name() string { return p.name }

// State returns the pool's state.
func (p *Pool) State() PoolState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Err returns the *PoolFailedError of a failed pool, ErrPoolClosed after
// Close, or nil while it runs.
func (p *Pool) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stateErrLocked()
}

// PoolWorker describes one worker of a pool (Pool.Workers).
type PoolWorker struct {
	Name     string
	PID      int
	State    WorkerState
	InFlight int
	Calls    int // calls dispatched to it
	Started  time.Time
}

// Workers lists the pool's started workers.
func (p *Pool) Workers() []PoolWorker {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PoolWorker, 0, len(p.members))
	for _, m := range p.members {
		out = append(out, PoolWorker{Name: m.w.Name(), PID: m.w.PID(), State: m.state, InFlight: m.inflight, Calls: m.calls, Started: m.started})
	}
	return out
}

// Close is Shutdown bounded by DrainTimeout.
func (p *Pool) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DrainTimeout)
	defer cancel()
	return p.Shutdown(ctx)
}

// Shutdown stops the pool: queued and new calls fail with ErrPoolClosed,
// workers being started are stopped, and every worker finishes the calls
// it runs, until ctx ends; then the workers are closed (Worker.Close:
// their remaining calls fail with ErrWorkerClosed). It returns after every
// goroutine and process of the pool has ended, with ctx's error if calls
// were still running when it ended. It is idempotent; later calls wait
// for the first and return its result.
func (p *Pool) Shutdown(ctx context.Context) error {
	first := false
	p.closeOnce.Do(func() { first = true })
	if !first {
		<-p.closeDone
		return p.closeErr
	}
	p.mu.Lock()
	p.state = PoolClosing
	p.failQueueLocked(ErrPoolClosed)
	for _, m := range append([]*member(nil), p.members...) {
		p.retireLocked(m, ReasonClose, false, ctx)
	}
	p.notifyLocked()
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	p.state = PoolClosed
	p.notifyLocked()
	p.mu.Unlock()
	close(p.evStop)
	<-p.evDone
	p.met.unregister()
	if err := ctx.Err(); err != nil {
		p.closeErr = fmt.Errorf("shutdown pool %q: calls still running when the drain ended: %w", p.name, err)
	}
	close(p.closeDone)
	return p.closeErr
}

// Resize sets the number of workers that take calls to n (Min and Max
// become n) and returns when that many serve: it starts the missing ones
// in parallel, or drains the least-loaded extra ones (they finish their
// calls).
func (p *Pool) Resize(ctx context.Context, n int) error {
	if n < 1 {
		return fmt.Errorf("resize pool %q: size %d is below 1", p.name, n)
	}
	p.upgrade.Lock()
	defer p.upgrade.Unlock()
	p.mu.Lock()
	if err := p.stateErrLocked(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("resize pool %q: %w", p.name, err)
	}
	p.size, p.cfg.Min, p.cfg.Max = n, n, n
	for active := p.countLocked(WorkerReady) + p.startingActive; active < n; active++ {
		p.spawnLocked(WorkerReady, 0, ReasonResize)
	}
	for extra := p.countLocked(WorkerReady) - n; extra > 0; extra-- {
		var pick *member
		for _, m := range p.members {
			if m.state == WorkerReady && (pick == nil || m.inflight < pick.inflight) {
				pick = m
			}
		}
		p.retireLocked(pick, ReasonResize, false, nil)
	}
	p.mu.Unlock()
	err := p.waitFor(ctx, "the resize", func() bool { return p.countLocked(WorkerReady) == n })
	if err != nil {
		return fmt.Errorf("resize pool %q: %w", p.name, err)
	}
	return nil
}

// Replace is a rolling restart with the pool's current command (see
// Upgrade).
func (p *Pool) Replace(ctx context.Context) error {
	p.mu.Lock()
	newCmd := p.newCmd
	p.mu.Unlock()
	return p.Upgrade(ctx, newCmd)
}

// Upgrade is a rolling restart onto a new command: it starts a full set of
// new workers (and spares) of newCmd in parallel; if one fails to start,
// it stops them and returns that error, and the pool keeps its old
// workers. Otherwise new calls go to the new workers from then on, the old
// ones finish the calls they run (up to DrainTimeout) and stop, and
// Upgrade returns when they have stopped. No call fails for it. Later
// replacements run newCmd.
func (p *Pool) Upgrade(ctx context.Context, newCmd func() *exec.Cmd) error {
	p.upgrade.Lock()
	defer p.upgrade.Unlock()
	p.mu.Lock()
	if err := p.stateErrLocked(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("upgrade pool %q: %w", p.name, err)
	}
	size, spares := p.size, p.cfg.Spares
	p.mu.Unlock()

	ws, err := p.startN(ctx, size+spares, newCmd)
	if err != nil {
		return fmt.Errorf("upgrade pool %q: %w", p.name, err)
	}
	p.mu.Lock()
	if err := p.stateErrLocked(); err != nil {
		p.mu.Unlock()
		for _, w := range ws {
			w.Close()
		}
		return fmt.Errorf("upgrade pool %q: %w", p.name, err)
	}
	p.gen++
	gen := p.gen
	p.newCmd = newCmd
	old := append([]*member(nil), p.members...)
	for i, w := range ws {
		role := WorkerReady
		if i >= size {
			role = WorkerSpare
		}
		p.addLocked(w, gen, role, 0, ReasonUpgrade)
	}
	for _, m := range old {
		p.retireLocked(m, ReasonUpgrade, false, nil)
	}
	p.dispatchLocked()
	p.mu.Unlock()
	err = p.waitFor(ctx, "the old workers to stop", func() bool {
		for _, m := range p.members {
			if m.gen != gen {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("upgrade pool %q: %w", p.name, err)
	}
	return nil
}
