package host

import (
	"context"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/proc"
)

// spawnLocked starts a worker in the background, in role (WorkerReady or
// WorkerSpare), after the backoff for crashes restarts in a row.
func (p *Pool) spawnLocked(role WorkerState, crashes int, reason string) {
	if p.state != PoolRunning {
		return
	}
	if role == WorkerSpare {
		p.startingSpare++
	} else {
		p.startingActive++
	}
	p.wg.Add(1)
	go p.spawn(role, crashes, reason)
}

func (p *Pool) unstartLocked(role WorkerState) {
	if role == WorkerSpare {
		p.startingSpare--
	} else {
		p.startingActive--
	}
	p.notifyLocked()
}

// restartDelay is the backoff before the crashes-th restart in a row of
// a slot: none for the first, then the Restart policy's schedule (full
// jitter): up to 100 ms before the second, 200 ms before the third, ...
func (p *Pool) restartDelay(crashes int) time.Duration {
	if crashes <= 1 {
		return 0
	}
	d, err := p.cfg.Restart.Delay(crashes-2, nil)
	if err != nil {
		return p.cfg.Restart.MaxDelay
	}
	return d
}

func (p *Pool) spawn(role WorkerState, crashes int, reason string) {
	defer p.wg.Done()
	if d := p.restartDelay(crashes); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
		}
	}
	p.mu.Lock()
	gen, newCmd := p.gen, p.newCmd
	running := p.state == PoolRunning
	p.mu.Unlock()
	var w *Worker
	var err error
	if running {
		w, err = p.startWorker(p.ctx, newCmd)
	}

	p.mu.Lock()
	p.unstartLocked(role)
	if p.state != PoolRunning {
		p.mu.Unlock()
		if w != nil {
			w.Close()
		}
		return
	}
	if err != nil {
		p.restarts[ReasonStartFailed]++
		p.emitLocked(PoolEvent{Kind: EventWorkerStartFailed, Reason: reason, Err: err})
		if !p.noteRestartLocked(err) {
			p.spawnLocked(role, crashes+1, reason)
		}
		p.mu.Unlock()
		return
	}
	if gen != p.gen {
		// Started with the command an Upgrade replaced: start another.
		p.spawnLocked(role, 0, reason)
		p.mu.Unlock()
		w.Close()
		return
	}
	// The pool may have changed while it started (a spare promoted, a
	// Resize): fill what is missing, or stop it.
	ready, spares := p.countLocked(WorkerReady)+p.startingActive, p.countLocked(WorkerSpare)+p.startingSpare
	switch {
	case role == WorkerReady && ready >= p.size && spares < p.cfg.Spares:
		role = WorkerSpare
	case role == WorkerSpare && spares >= p.cfg.Spares && ready < p.size:
		role = WorkerReady
	case (role == WorkerReady && ready >= p.size) || (role == WorkerSpare && spares >= p.cfg.Spares):
		p.mu.Unlock()
		w.Close()
		return
	}
	p.addLocked(w, gen, role, crashes, reason)
	p.dispatchLocked()
	p.mu.Unlock()
}

// promoteLocked turns a spare into a ready worker and starts a new spare;
// it reports false when there is no spare.
func (p *Pool) promoteLocked(reason string) bool {
	for _, m := range p.members {
		if m.state == WorkerSpare {
			m.state = WorkerReady
			m.lastUsed = time.Now()
			p.emitLocked(PoolEvent{Kind: EventWorkerPromoted, Worker: m.w.Name(), PID: m.w.PID(), Reason: reason})
			p.spawnLocked(WorkerSpare, 0, reason)
			p.notifyLocked()
			return true
		}
	}
	return false
}

// replaceLocked replaces a worker that took calls: with a spare at once,
// else with a new worker after the backoff.
func (p *Pool) replaceLocked(crashes int, reason string) {
	if p.countLocked(WorkerReady)+p.startingActive >= p.size {
		return
	}
	if !p.promoteLocked(reason) {
		p.spawnLocked(WorkerReady, crashes, reason)
	}
}

// retireLocked takes m out of dispatch: its monitor lets it finish its
// calls (until drainCtx ends; nil: DrainTimeout) and closes it. With
// replace, a new worker takes its place.
func (p *Pool) retireLocked(m *member, reason string, replace bool, drainCtx context.Context) {
	if m.state == WorkerDraining || m.state == workerGone {
		return
	}
	was := m.state
	m.state, m.reason, m.drainCtx = WorkerDraining, reason, drainCtx
	close(m.retire)
	p.idleLocked(m)
	p.notifyLocked()
	if !replace {
		return
	}
	p.restarts[reason]++
	if was == WorkerSpare {
		p.spawnLocked(WorkerSpare, 0, reason)
	} else {
		p.replaceLocked(0, reason)
	}
}

// noteRestartLocked counts a restart against the intensity limit; past
// it, the pool fails and noteRestartLocked reports true.
func (p *Pool) noteRestartLocked(last error) bool {
	if p.cfg.MaxRestarts < 0 {
		return false
	}
	now := time.Now()
	keep := p.restartTimes[:0]
	for _, t := range p.restartTimes {
		if now.Sub(t) < p.cfg.RestartWindow {
			keep = append(keep, t)
		}
	}
	p.restartTimes = append(keep, now)
	if len(p.restartTimes) <= p.cfg.MaxRestarts {
		return false
	}
	p.failLocked(&PoolFailedError{Pool: p.name, Restarts: len(p.restartTimes), Window: p.cfg.RestartWindow, Last: last})
	return true
}

// failLocked fails the pool: queued and new calls fail with err, and the
// workers drain and stop.
func (p *Pool) failLocked(err error) {
	p.state, p.failErr = PoolFailed, err
	p.failQueueLocked(err)
	for _, m := range append([]*member(nil), p.members...) {
		p.retireLocked(m, ReasonPoolFailed, false, nil)
	}
	p.emitLocked(PoolEvent{Kind: EventPoolFailed, Reason: ReasonPoolFailed, Err: err})
	p.notifyLocked()
	p.cancel()
}

// monitor watches one worker: its exit, its retirement, its health.
func (p *Pool) monitor(m *member) {
	defer p.wg.Done()
	var pinging chan error // a ping in flight
	defer func() {
		if pinging != nil {
			<-pinging // the worker is closed: the ping has ended
		}
	}()
	var tick <-chan time.Time
	if p.cfg.HealthInterval > 0 {
		t := time.NewTicker(p.cfg.HealthInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-m.w.Exited():
			p.exited(m)
			return
		case <-m.retire:
			p.drain(m)
			return
		case err := <-pinging:
			pinging = nil
			p.mu.Lock()
			if err == nil {
				m.misses = 0
			} else {
				p.missLocked(m)
			}
			p.mu.Unlock()
		case <-tick:
			if pinging != nil {
				p.mu.Lock()
				p.missLocked(m) // the last ping is still unanswered
				p.mu.Unlock()
				continue
			}
			if p.check(m) {
				pinging = make(chan error, 1)
				go func(ch chan error) { ch <- m.w.ping() }(pinging)
			}
		}
	}
}

// check runs the periodic checks of m: memory, idle time, activity. It
// reports whether m should be pinged.
func (p *Pool) check(m *member) bool {
	if p.cfg.MaxMemory > 0 {
		if rss, err := proc.RSS(m.w.PID()); err == nil && rss > p.cfg.MaxMemory {
			p.mu.Lock()
			if m.state == WorkerReady || m.state == WorkerSpare {
				p.retireLocked(m, ReasonMaxMemory, true, nil)
				p.dispatchLocked()
			}
			p.mu.Unlock()
			return false
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.state != WorkerReady && m.state != WorkerSpare {
		return false
	}
	if m.state == WorkerReady && p.size > p.cfg.Min && m.inflight == 0 && time.Since(m.lastUsed) >= p.cfg.IdleTimeout {
		p.size--
		p.retireLocked(m, ReasonIdle, false, nil)
		return false
	}
	if m.activity != m.seen {
		m.seen, m.misses = m.activity, 0 // it answered calls since the last check
		return false
	}
	return true
}

// missLocked counts an unanswered ping; HealthFailures in a row mark m
// unhealthy and kill it, and its exit replaces it.
func (p *Pool) missLocked(m *member) {
	m.misses++
	if m.misses < p.cfg.HealthFailures || m.unhealthy || (m.state != WorkerReady && m.state != WorkerSpare) {
		return
	}
	m.unhealthy = true
	p.emitLocked(PoolEvent{Kind: EventWorkerUnhealthy, Worker: m.w.Name(), PID: m.w.PID(), Reason: ReasonUnhealthy})
	m.w.proc.killGroup() // its calls fail with the exit (and retry); exited replaces it
}

// exited handles the exit of a worker that was not retired: a crash, a
// kill, or a failed health check.
func (p *Pool) exited(m *member) {
	p.mu.Lock()
	if m.state == WorkerDraining {
		p.mu.Unlock()
		p.drain(m) // died while draining: nothing to replace
		return
	}
	exitErr := m.w.proc.exit()
	reason := ReasonCrash
	if m.unhealthy {
		reason = ReasonUnhealthy
	}
	was := m.state
	p.removeLocked(m)
	p.restarts[reason]++
	p.emitLocked(PoolEvent{Kind: EventWorkerExited, Worker: m.w.Name(), PID: m.w.PID(), Reason: reason, Err: exitErr})
	if p.state == PoolRunning && !p.noteRestartLocked(exitErr) {
		crashes := 1 // after RestartReset of healthy running, a first restart again
		if time.Since(m.started) < p.cfg.RestartReset {
			crashes = m.crashes + 1
		}
		if was == WorkerSpare {
			p.spawnLocked(WorkerSpare, crashes, reason)
		} else {
			p.replaceLocked(crashes, reason)
		}
		p.dispatchLocked()
	}
	p.mu.Unlock()

	// The calls it ran fail with its exit as their connection breaks;
	// wait for that (bounded), then release what the Worker holds.
	t := time.NewTimer(p.cfg.Worker.GracePeriod)
	select {
	case <-m.idle:
	case <-t.C:
	}
	t.Stop()
	m.w.Close()
}

// drain lets a retired worker finish its calls, then closes it.
func (p *Pool) drain(m *member) {
	ctx := m.drainCtx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), p.cfg.DrainTimeout)
		defer cancel()
	}
	select {
	case <-m.idle:
	case <-m.w.Exited():
	case <-ctx.Done():
	}
	m.w.Close()
	p.mu.Lock()
	p.removeLocked(m)
	var exitErr error
	if e := m.w.proc.exit(); e != nil && (e.ExitCode != 0 || e.Signal != "") && m.reason != ReasonClose {
		exitErr = e
	}
	p.emitLocked(PoolEvent{Kind: EventWorkerExited, Worker: m.w.Name(), PID: m.w.PID(), Reason: m.reason, Err: exitErr})
	p.mu.Unlock()
}

// ping sends the connection's own (yamux) ping and waits for the answer:
// the worker process runs and reads its socket. It ends when the answer
// comes or the connection closes.
func (w *Worker) ping() error {
	w.state.RLock()
	c := w.conn
	w.state.RUnlock()
	if c == nil {
		return ErrDisconnected
	}
	_, err := c.Session().Ping()
	return err
}
