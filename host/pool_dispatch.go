package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// waiter is a call queued for a worker.
type waiter struct {
	ch      chan grant // cap 1: the worker, or why there is none
	exclude *member    // the worker that died under this call (crash retry)
	since   time.Time
}

type grant struct {
	m   *member
	err error
}

// acquire returns the least-loaded ready worker, with the call counted in
// its load, waiting in the queue while none has room. exclude, when set,
// is never picked.
func (p *Pool) acquire(ctx context.Context, exclude *member) (*member, error) {
	p.mu.Lock()
	if err := p.stateErrLocked(); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	if len(p.queue) == 0 {
		if m := p.pickLocked(exclude); m != nil {
			p.takeLocked(m)
			p.mu.Unlock()
			return m, nil
		}
	}
	if p.cfg.MaxQueue >= 0 && len(p.queue) >= p.cfg.MaxQueue {
		n := len(p.queue)
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %d calls already wait for a worker (MaxQueue %d)", ErrPoolQueueFull, n, p.cfg.MaxQueue)
	}
	wt := &waiter{ch: make(chan grant, 1), exclude: exclude, since: time.Now()}
	p.queue = append(p.queue, wt)
	p.scaleUpLocked()
	p.mu.Unlock()

	select {
	case g := <-wt.ch:
		waited := time.Since(wt.since)
		p.ctr.queueWaits.Add(1)
		p.ctr.queueWaitNano.Add(uint64(waited))
		p.met.queued(waited)
		return g.m, g.err
	case <-ctx.Done():
		p.mu.Lock()
		i := slices.Index(p.queue, wt)
		if i >= 0 {
			p.queue = slices.Delete(p.queue, i, i+1)
		}
		p.mu.Unlock()
		if i < 0 {
			// Granted meanwhile: give the worker back.
			if g := <-wt.ch; g.m != nil {
				p.release(g.m, nil)
			}
		}
		return nil, fmt.Errorf("waiting for a worker: %w", context.Cause(ctx))
	}
}

// pickLocked returns the ready worker with the fewest calls in flight and
// room for one more (the one idle longest among equals), or nil.
func (p *Pool) pickLocked(exclude *member) *member {
	var best *member
	for _, m := range p.members {
		if m.state != WorkerReady || m.dead || m == exclude || (p.cfg.MaxInFlight > 0 && m.inflight >= p.cfg.MaxInFlight) {
			continue
		}
		if best == nil || m.inflight < best.inflight || (m.inflight == best.inflight && m.lastUsed.Before(best.lastUsed)) {
			best = m
		}
	}
	return best
}

// takeLocked counts a call dispatched to m; the MaxCalls-th call retires
// it (it still runs that call).
func (p *Pool) takeLocked(m *member) {
	m.inflight++
	m.calls++
	if p.cfg.MaxCalls > 0 && m.calls >= p.cfg.MaxCalls {
		p.retireLocked(m, ReasonMaxCalls, true, nil)
	}
}

// release ends a call on m and hands the room to a queued call. A call
// that failed because the worker died takes the worker out of dispatch at
// once, before the pool sees its exit.
func (p *Pool) release(m *member, err error) {
	p.mu.Lock()
	if err != nil && workerDied(err) && !m.dead {
		m.dead = true
		if m.w.proc.exit() == nil && errors.Is(err, ErrConnectionLost) && m.state == WorkerReady {
			// The process runs but its connection broke: a worker no call
			// can reach. Replace it.
			p.retireLocked(m, ReasonConnLost, true, nil)
		}
	}
	m.inflight--
	m.activity++
	m.lastUsed = time.Now()
	p.idleLocked(m)
	p.dispatchLocked()
	p.mu.Unlock()
}

// dispatchLocked hands ready workers to queued calls, in queue order.
func (p *Pool) dispatchLocked() {
	for i := 0; i < len(p.queue); {
		wt := p.queue[i]
		m := p.pickLocked(wt.exclude)
		if m == nil {
			if wt.exclude == nil {
				return // no worker has room for anyone
			}
			i++
			continue
		}
		p.takeLocked(m)
		p.queue = slices.Delete(p.queue, i, i+1)
		wt.ch <- grant{m: m}
	}
}

// failQueueLocked fails every queued call with err.
func (p *Pool) failQueueLocked(err error) {
	for _, wt := range p.queue {
		wt.ch <- grant{err: err}
	}
	p.queue = nil
}

// scaleUpLocked adds a worker to an elastic pool whose calls queue: a
// spare at once if there is one, else a new worker (up to Max).
func (p *Pool) scaleUpLocked() {
	if p.state != PoolRunning || p.size >= p.cfg.Max || p.startingActive >= len(p.queue) {
		return
	}
	p.size++
	if p.promoteLocked(ReasonScaleUp) {
		return
	}
	p.spawnLocked(WorkerReady, 0, ReasonScaleUp)
}
