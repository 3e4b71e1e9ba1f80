package statushub

import (
	"math"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// terminal reports whether st ends a job: COMPLETED or FAILED.
func terminal(st status.Status) bool { return st == status.Completed || st == status.Failed }

// pendingQueue holds the events waiting to be written to one WebSocket
// client. It is a FIFO until it is told to coalesce (compact): then it keeps
// only the latest waiting event of each job, at the position of the job's
// first waiting event, and every later put for a job that is already waiting
// replaces that job's event in place. A waiting terminal event (COMPLETED,
// FAILED) is never replaced by a non-terminal one: the later event is queued
// behind it instead (a job that is run again), and coalesces from there on.
// Either way each job's events stay in order. It stops coalescing when it
// becomes empty. It is not safe for concurrent use.
type pendingQueue struct {
	items      []status.Event
	popped     int // events popped so far: items[0]'s absolute index
	coalescing bool
	pos        map[string]int // job -> absolute index of its latest waiting event, while coalescing
}

func newPendingQueue() *pendingQueue {
	return &pendingQueue{pos: make(map[string]int)}
}

// put adds ev at the back, or, while coalescing, replaces the latest waiting
// event of ev's job, reporting whether it replaced one.
func (q *pendingQueue) put(ev status.Event) (replaced bool) {
	if q.coalescing {
		return q.coalesce(ev)
	}
	q.items = append(q.items, ev)
	return false
}

// coalesce puts ev while coalescing: it replaces the job's latest waiting
// event unless that one is terminal and ev is not, and appends ev otherwise.
func (q *pendingQueue) coalesce(ev status.Event) (replaced bool) {
	if abs, ok := q.pos[ev.JobID]; ok {
		if i := abs - q.popped; !terminal(q.items[i].Status) || terminal(ev.Status) {
			q.items[i] = ev
			return true
		}
	}
	q.pos[ev.JobID] = q.popped + len(q.items)
	q.items = append(q.items, ev)
	return false
}

// pop removes and returns the event at the front.
func (q *pendingQueue) pop() (status.Event, bool) {
	if len(q.items) == 0 {
		return status.Event{}, false
	}
	ev := q.items[0]
	q.items[0] = status.Event{}
	q.items = q.items[1:]
	if q.coalescing && q.pos[ev.JobID] == q.popped {
		delete(q.pos, ev.JobID)
	}
	q.popped++
	if len(q.items) == 0 {
		q.coalescing = false
		clear(q.pos)
		q.items = nil // let a burst's backing array go
	}
	return ev, true
}

// compact switches to coalescing and collapses the waiting events as if each
// had been put while coalescing: the latest one per job, except that a
// terminal event is kept ahead of later non-terminal events of its job. It
// returns how many events it removed.
func (q *pendingQueue) compact() (removed int) {
	if q.coalescing {
		return 0
	}
	q.coalescing = true
	items := q.items
	q.items = make([]status.Event, 0, len(items))
	for _, ev := range items {
		if q.coalesce(ev) {
			removed++
		}
	}
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
