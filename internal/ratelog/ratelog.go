// Package ratelog turns a stream of like events (refused connections,
// replies for unknown transaction ids) into at most one log record per
// interval, each with the count of the events it stands for. Nothing is
// dropped silently: every event is counted into exactly one record.
//
// The first event after a quiet interval is logged at once with a count of
// 1. Events after it are counted, and one record for them is logged when the
// interval ends (from a timer), carrying the count and the last event's
// attributes. Flush logs what is counted and stops the timer.
//
// # Concurrency
//
// A Limiter is safe for concurrent use. The log function is called without
// the Limiter's lock held, from the goroutine that calls Add or Flush or
// from the interval's timer, one call at a time.
package ratelog

import (
	"sync"
	"time"
)

// Summary is what one log record stands for.
type Summary struct {
	// Count is the number of events since the previous record (1 for the
	// first event after a quiet interval).
	Count int
	// Window is how long those events were counted over, to the
	// millisecond: zero for a first event logged at once.
	Window time.Duration
	// Last is the attributes (key/value pairs) of the last event counted.
	Last []any
}

// Limiter counts events and logs them at most once per interval.
type Limiter struct {
	interval time.Duration
	log      func(Summary)
	now      func() time.Time
	after    func(time.Duration, func()) stopper

	emit    sync.Mutex // one log call at a time, in order
	mu      sync.Mutex
	start   time.Time // when the current interval began
	open    bool      // an interval is running: events are counted, not logged
	count   int
	last    []any
	timer   stopper
	flushed bool
}

type stopper interface{ Stop() bool }

// New returns a Limiter that calls log at most once per interval.
func New(interval time.Duration, log func(Summary)) *Limiter {
	return &Limiter{
		interval: interval, log: log, now: time.Now,
		after: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) },
	}
}

// Add counts one event with its attributes (key/value pairs, as for
// hclog). The first event after a quiet interval is logged before Add
// returns. After Flush, every event is logged at once.
func (l *Limiter) Add(attrs ...any) {
	l.mu.Lock()
	if l.open && !l.flushed {
		l.count++
		l.last = attrs
		l.mu.Unlock()
		return
	}
	if !l.flushed {
		l.open = true
		l.start = l.now()
		l.timer = l.after(l.interval, l.tick)
	}
	l.emit.Lock()
	l.mu.Unlock()
	defer l.emit.Unlock()
	l.log(Summary{Count: 1, Last: attrs})
}

// tick ends an interval: it logs what was counted in it and starts the
// next one, or goes quiet if nothing was.
func (l *Limiter) tick() {
	l.mu.Lock()
	if !l.open {
		l.mu.Unlock()
		return
	}
	s := l.take()
	if s.Count == 0 {
		l.open = false
		l.timer = nil
		l.mu.Unlock()
		return
	}
	l.start = l.now()
	l.timer = l.after(l.interval, l.tick)
	l.emit.Lock()
	l.mu.Unlock()
	defer l.emit.Unlock()
	l.log(s)
}

// take returns and resets what was counted; l.mu is held.
func (l *Limiter) take() Summary {
	s := Summary{Count: l.count, Window: l.now().Sub(l.start).Round(time.Millisecond), Last: l.last}
	l.count, l.last = 0, nil
	return s
}

// Flush logs what is counted and stops the timer; it returns after any
// record being logged by the timer is done. Events added after Flush are
// logged one by one, at once: call it when the events' source stops.
func (l *Limiter) Flush() {
	l.mu.Lock()
	l.flushed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	var s Summary
	if l.open {
		l.open = false
		s = l.take()
	}
	l.emit.Lock()
	l.mu.Unlock()
	defer l.emit.Unlock()
	if s.Count > 0 {
		l.log(s)
	}
}
