package host

import (
	"sync/atomic"
	"time"
)

// PoolEventKind says what a PoolEvent reports.
type PoolEventKind int

// What the supervisor of a pool reports to PoolConfig.OnEvent.
const (
	// EventWorkerStarted: a worker started and takes calls (or waits as a
	// spare). Reason says why it was started: ReasonInitial, a restart
	// reason (ReasonCrash, ReasonUnhealthy, ReasonMaxMemory,
	// ReasonMaxCalls), ReasonScaleUp, ReasonResize, ReasonUpgrade.
	EventWorkerStarted PoolEventKind = iota
	// EventWorkerPromoted: a spare took the place of a worker that went
	// away (Reason: why it went).
	EventWorkerPromoted
	// EventWorkerExited: a worker is gone; Reason says why (ReasonCrash
	// with its *ExitError in Err, ReasonUnhealthy, a recycling reason,
	// ReasonIdle, ReasonResize, ReasonUpgrade, ReasonClose,
	// ReasonPoolFailed).
	EventWorkerExited
	// EventWorkerUnhealthy: a worker missed HealthFailures pings in a row;
	// it is killed and replaced.
	EventWorkerUnhealthy
	// EventWorkerStartFailed: a replacement failed to start (Err says why);
	// it is retried with backoff and counts against the intensity limit.
	EventWorkerStartFailed
	// EventPoolFailed: the pool went past its intensity limit; Err is the
	// *PoolFailedError.
	EventPoolFailed
)

var poolEventNames = [...]string{"worker-started", "worker-promoted", "worker-exited", "worker-unhealthy", "worker-start-failed", "pool-failed"}

func (k PoolEventKind) String() string {
	if int(k) < len(poolEventNames) {
		return poolEventNames[k]
	}
	return "unknown"
}

// Reasons in PoolEvent.Reason and PoolStats.Restarts.
const (
	ReasonInitial     = "initial"
	ReasonCrash       = "crash"           // the worker exited on its own or was killed
	ReasonUnhealthy   = "unhealthy"       // it missed HealthFailures pings
	ReasonMaxMemory   = "max-memory"      // recycled: RSS above MaxMemory
	ReasonMaxCalls    = "max-calls"       // recycled: MaxCalls calls
	ReasonStartFailed = "start-failed"    // a replacement could not start
	ReasonConnLost    = "connection-lost" // its connection broke while it ran
	ReasonScaleUp     = "scale-up"
	ReasonIdle        = "idle" // scaled down after IdleTimeout
	ReasonResize      = "resize"
	ReasonUpgrade     = "upgrade" // Replace or Upgrade
	ReasonClose       = "close"
	ReasonPoolFailed  = "pool-failed"
)

// PoolEvent is one thing the supervisor of a pool did or saw.
type PoolEvent struct {
	Kind   PoolEventKind
	Worker string // the worker's name; "" for EventPoolFailed
	PID    int
	Reason string
	Err    error
	Time   time.Time
}

// emitLocked queues ev for OnEvent, which runs on the pool's event
// goroutine, in order, never under the pool's lock.
func (p *Pool) emitLocked(ev PoolEvent) {
	if p.cfg.OnEvent == nil {
		return
	}
	ev.Time = time.Now()
	p.evq = append(p.evq, ev)
	select {
	case p.evSig <- struct{}{}:
	default:
	}
}

// runEvents delivers queued events until evStop is closed and the queue
// is empty.
func (p *Pool) runEvents() {
	defer close(p.evDone)
	stopping := false
	for {
		p.mu.Lock()
		q := p.evq
		p.evq = nil
		p.mu.Unlock()
		for _, ev := range q {
			p.cfg.OnEvent(ev)
		}
		if len(q) > 0 {
			continue
		}
		if stopping {
			return
		}
		select {
		case <-p.evSig:
		case <-p.evStop:
			stopping = true
		}
	}
}

// Call outcomes in PoolStats.Calls.
const (
	OutcomeOK        = "ok"
	OutcomeError     = "error"       // the handler returned an error
	OutcomeCrash     = "crash"       // the worker died under the call (after any crash retries)
	OutcomeQueueFull = "queue_full"  // ErrPoolQueueFull
	OutcomeFailed    = "pool_failed" // ErrPoolFailed
	OutcomeClosed    = "closed"      // ErrPoolClosed
	OutcomeCanceled  = "canceled"    // the caller's context was cancelled
	OutcomeDeadline  = "deadline"    // the call's deadline passed
	OutcomeOther     = "other"
)

var outcomes = [...]string{OutcomeOK, OutcomeError, OutcomeCrash, OutcomeQueueFull, OutcomeFailed, OutcomeClosed, OutcomeCanceled, OutcomeDeadline, OutcomeOther}

// poolCounters are the pool's monotonic counters: Stats reads them, and
// so can a metrics callback.
type poolCounters struct {
	calls         [len(outcomes)]atomic.Uint64
	crashRetries  atomic.Uint64
	queueWaits    atomic.Uint64
	queueWaitNano atomic.Uint64
}

// PoolStats is a snapshot of a pool.
type PoolStats struct {
	State PoolState
	// Workers counts the workers by state (starting ones included).
	Workers map[WorkerState]int
	// Restarts counts workers replaced, by reason (ReasonCrash,
	// ReasonUnhealthy, ReasonMaxMemory, ReasonMaxCalls, ReasonStartFailed).
	Restarts map[string]uint64
	// InFlight is the calls running on workers; Queued those waiting for
	// one.
	InFlight, Queued int
	// QueueWaits counts the calls that waited in the queue, and QueueWait
	// their total wait.
	QueueWaits uint64
	QueueWait  time.Duration
	// Calls counts finished calls by outcome (Outcome*).
	Calls map[string]uint64
	// CrashRetries counts calls re-sent after their worker died.
	CrashRetries uint64
}

// Stats returns a snapshot of the pool's state and counters.
func (p *Pool) Stats() PoolStats {
	s := PoolStats{Workers: map[WorkerState]int{}, Restarts: map[string]uint64{}, Calls: map[string]uint64{}}
	p.mu.Lock()
	s.State = p.state
	for _, m := range p.members {
		s.Workers[m.state]++
		s.InFlight += m.inflight
	}
	if n := p.startingActive + p.startingSpare; n > 0 {
		s.Workers[WorkerStarting] += n
	}
	for r, n := range p.restarts {
		s.Restarts[r] = n
	}
	s.Queued = len(p.queue)
	p.mu.Unlock()
	for i, name := range outcomes {
		if n := p.ctr.calls[i].Load(); n > 0 {
			s.Calls[name] = n
		}
	}
	s.CrashRetries = p.ctr.crashRetries.Load()
	s.QueueWaits = p.ctr.queueWaits.Load()
	s.QueueWait = time.Duration(p.ctr.queueWaitNano.Load())
	return s
}
