package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// errOutboxClosed: the worker is stopping and takes no more records.
var errOutboxClosed = errors.New("the worker is stopping")

// outboxChunk is how many bytes of queued records one Write carries at most
// (a longer record is written alone). Records are whole lines or whole
// envelopes, so a chunk of them is too; one Write per record cost a yamux
// round of its own per log line.
const outboxChunk = 64 << 10

// outbox queues records (log lines, encoded events) for the host and writes
// them from one goroutine, in order.
//
// While a host is attached, a full queue slows the producer down: push waits
// for room, up to the producer's context (events) or a bound (log records),
// and only then gives up, counts the record as dropped and says so. While no
// host is attached, the queue keeps the newest limit records: a push to a
// full queue drops the oldest and counts it. Every drop adds to *dropped;
// notice, if set, turns drops not yet reported into a record that is written
// before the next batch, so the host is told.
type outbox struct {
	mu      sync.Mutex
	cond    *sync.Cond // wakes run and flush
	queue   [][]byte
	limit   int
	w       io.Writer
	host    bool // a host is connected: w is set, or will be when it opens the stream
	closed  bool
	writing bool // a batch is being written outside the lock
	gen     int  // bumps on every attach, so a failed write detaches only its own writer
	room    chan struct{}
	stalled bool // a bounded push timed out: full-queue pushes drop at once until the writer makes progress
	kicked  bool // a notice may be due although the queue is empty

	dropped *atomic.Uint64
	notice  func() []byte // the notice record for drops not yet reported, or nil
	onDrop  func()        // called, without o.mu, after a drop
	onWait  func()        // tests: called when a push starts waiting for room
	done    chan struct{}
}

// newOutbox returns an outbox of limit records, counting drops in dropped,
// and starts its writer goroutine. notice and onDrop may be nil.
func newOutbox(limit int, dropped *atomic.Uint64, notice func() []byte, onDrop func()) *outbox {
	o := &outbox{limit: limit, dropped: dropped, notice: notice, onDrop: onDrop,
		room: make(chan struct{}), done: make(chan struct{})}
	o.cond = sync.NewCond(&o.mu)
	go o.run()
	return o
}

// push queues rec, which the outbox then owns. n, if not nil, is
// incremented once rec is queued, under the same lock that orders the
// queue, so a count read later covers a prefix of what was queued.
//
// While a writer is attached and the queue is full, push waits for room:
// until ctx ends (ctx may be nil) or, when wait > 0, for at most wait. If
// it gives up, rec is dropped, counted, and push returns an error saying
// why (wrapping ctx's error). After a bounded wait ran out, pushes to a
// full queue drop at once until the writer makes progress, so a stuck host
// costs a logging worker one wait, not one per record.
func (o *outbox) push(ctx context.Context, rec []byte, wait time.Duration, n *atomic.Int64) error {
	var timer *time.Timer
	var expired <-chan time.Time
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	o.mu.Lock()
	for {
		if o.closed {
			o.mu.Unlock()
			return errOutboxClosed
		}
		switch {
		case len(o.queue) < o.limit:
			// Room.
		case !o.host:
			// No host: keep the newest records.
			o.queue[0] = nil
			o.queue = o.queue[1:]
			o.drop()
		case o.stalled && wait > 0:
			o.drop()
			o.mu.Unlock()
			o.dropped1()
			return fmt.Errorf("host did not take the queued records within %v", wait)
		default:
			room := o.room
			o.mu.Unlock()
			if o.onWait != nil {
				o.onWait()
			}
			if wait > 0 && timer == nil {
				timer = time.NewTimer(wait)
				expired = timer.C
			}
			select {
			case <-room:
				o.mu.Lock()
				continue
			case <-ctxDone:
				o.mu.Lock()
				if len(o.queue) < o.limit || !o.host || o.closed {
					continue // room came with the end of ctx: take it
				}
				o.drop()
				o.mu.Unlock()
				o.dropped1()
				return fmt.Errorf("the host did not take it while %d records waited for it: %w", o.limit, context.Cause(ctx))
			case <-expired:
				o.mu.Lock()
				if len(o.queue) < o.limit || !o.host || o.closed {
					continue
				}
				o.stalled = true
				o.drop()
				o.mu.Unlock()
				o.dropped1()
				return fmt.Errorf("the host did not take it within %v while %d records waited for it", wait, o.limit)
			}
		}
		o.queue = append(o.queue, rec)
		if n != nil {
			n.Add(1)
		}
		o.cond.Broadcast()
		o.mu.Unlock()
		return nil
	}
}

// drop counts one dropped record; o.mu is held. A notice is due: run is
// woken for it.
func (o *outbox) drop() {
	o.dropped.Add(1)
	o.kicked = true
	o.cond.Broadcast()
}

// dropped1 tells onDrop, outside the lock, that a record was dropped.
func (o *outbox) dropped1() {
	if o.onDrop != nil {
		o.onDrop()
	}
}

// kick wakes the writer to send a notice (another outbox dropped records).
func (o *outbox) kick() {
	o.mu.Lock()
	o.kicked = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// wake wakes pushers waiting for room; o.mu is held.
func (o *outbox) wake() {
	close(o.room)
	o.room = make(chan struct{})
}

// expect says a host connected whose stream is not open yet: from now on
// a full queue slows producers down instead of dropping.
func (o *outbox) expect() {
	o.mu.Lock()
	o.host = true
	o.wake()
	o.mu.Unlock()
}

func (o *outbox) attach(w io.Writer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w, o.host = w, true
	o.gen++
	o.stalled = false
	o.kicked = true // drops made while no host was attached are due
	o.wake()
	o.cond.Broadcast()
}

func (o *outbox) detach() {
	o.mu.Lock()
	o.w, o.host = nil, false
	o.gen++
	o.wake()
	o.cond.Broadcast()
	o.mu.Unlock()
}

// flush waits until the queue is written or no writer is attached.
func (o *outbox) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for (len(o.queue) > 0 || o.writing || o.kicked) && o.w != nil && !o.closed {
		o.cond.Wait()
	}
}

// close stops the writer goroutine and waits for it.
func (o *outbox) close() {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		o.wake()
		o.cond.Broadcast()
	}
	o.mu.Unlock()
	<-o.done
}

func (o *outbox) run() {
	defer close(o.done)
	var buf []byte
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		for !o.closed && (o.w == nil || (len(o.queue) == 0 && !o.kicked)) {
			o.cond.Wait()
		}
		if o.closed {
			return
		}
		batch, w, gen := o.queue, o.w, o.gen
		o.queue = nil
		o.kicked = false
		o.writing = true
		o.wake() // the queue is empty again
		o.mu.Unlock()

		if o.notice != nil {
			if rec := o.notice(); rec != nil {
				batch = append([][]byte{rec}, batch...)
			}
		}
		var n int
		var err error
		buf, n, err = writeChunks(w, batch, buf)

		o.mu.Lock()
		o.writing = false
		if err != nil {
			// Keep what was not written for the next host.
			o.queue = append(batch[n:], o.queue...)
			if o.gen == gen {
				o.w, o.host = nil, false
				o.wake()
			}
		} else if n > 0 {
			o.stalled = false
		}
		o.cond.Broadcast()
	}
}

// writeChunks writes the records to w, several at a time, each Write
// carrying whole records. It returns how many records were written whole
// before an error.
func writeChunks(w io.Writer, recs [][]byte, buf []byte) ([]byte, int, error) {
	done := 0
	for i := 0; i < len(recs); {
		j := i + 1
		b := recs[i]
		if j < len(recs) && len(b)+len(recs[j]) <= outboxChunk {
			buf = append(buf[:0], b...)
			for j < len(recs) && len(buf)+len(recs[j]) <= outboxChunk {
				buf = append(buf, recs[j]...)
				j++
			}
			b = buf
		}
		if _, err := w.Write(b); err != nil {
			return buf, done, err
		}
		done = j
		i = j
	}
	return buf, done, nil
}
