package status

import (
	"math"
	"time"
)

// pendingQueue holds the events waiting to be written to one WebSocket
// client. It is a FIFO until it is told to coalesce (compact): then it keeps
// only the latest waiting event of each job, at the position of the job's
// first waiting event, and every later put for a job that is already waiting
// replaces that job's event in place. Either way each job's events stay in
// order. It stops coalescing when it becomes empty. It is not safe for
// concurrent use.
type pendingQueue struct {
	items      []Event
	popped     int // events popped so far: items[0]'s absolute index
	coalescing bool
	pos        map[string]int // job -> absolute index of its waiting event, while coalescing
}

func newPendingQueue() *pendingQueue {
	return &pendingQueue{pos: make(map[string]int)}
}

// put adds ev at the back, or, while coalescing, replaces the waiting event
// of ev's job, reporting whether it replaced one.
func (q *pendingQueue) put(ev Event) (replaced bool) {
	if q.coalescing {
		if abs, ok := q.pos[ev.JobID]; ok {
			q.items[abs-q.popped] = ev
			return true
		}
		q.pos[ev.JobID] = q.popped + len(q.items)
	}
	q.items = append(q.items, ev)
	return false
}

// pop removes and returns the event at the front.
func (q *pendingQueue) pop() (Event, bool) {
	if len(q.items) == 0 {
		return Event{}, false
	}
	ev := q.items[0]
	q.items[0] = Event{}
	q.items = q.items[1:]
	if q.coalescing && q.pos[ev.JobID] == q.popped {
		delete(q.pos, ev.JobID)
	}
	q.popped++
	if len(q.items) == 0 {
		q.coalescing = false
		clear(q.pos)
	}
	return ev, true
}

// compact switches to coalescing and collapses the waiting events to the
// latest one per job. It returns how many events it removed.
func (q *pendingQueue) compact() (removed int) {
	if q.coalescing {
		return 0
	}
	q.coalescing = true
	latest := make(map[string]Event, len(q.items))
	for _, ev := range q.items {
		latest[ev.JobID] = ev
	}
	if len(latest) == len(q.items) {
		for i, ev := range q.items {
			q.pos[ev.JobID] = q.popped + i
		}
		return 0
	}
	out := make([]Event, 0, len(latest))
	for _, ev := range q.items {
		if _, seen := q.pos[ev.JobID]; seen {
			continue
		}
		q.pos[ev.JobID] = q.popped + len(out)
		out = append(out, latest[ev.JobID])
	}
	removed = len(q.items) - len(out)
	q.items = out
	return removed
}

func (q *pendingQueue) len() int { return len(q.items) }

// tokenBucket is a rate limiter: it holds up to burst tokens, refilled at
// rate per second; each message takes one. It is not safe for concurrent use.
type tokenBucket struct {
	rate   float64 // tokens per second; +Inf means no limit
	burst  float64
	tokens float64
	last   time.Time
}

// newTokenBucket returns a full bucket.
func newTokenBucket(rate float64, burst int, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take takes a token if one is available at now. Otherwise it returns how
// long until one will be.
func (b *tokenBucket) take(now time.Time) (ok bool, wait time.Duration) {
	if math.IsInf(b.rate, 1) {
		return true, 0
	}
	if now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+b.rate*now.Sub(b.last).Seconds())
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait = time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	if wait < time.Millisecond {
		wait = time.Millisecond
	}
	return false, wait
}
