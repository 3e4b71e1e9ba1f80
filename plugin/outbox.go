package plugin

import (
	"io"
	"sync"
)

// outbox queues records (log lines, encoded events) for the host and writes
// them from one goroutine, so a slow or absent host never blocks a handler.
// While no host is attached, records wait in a bounded queue; when it is
// full the oldest are dropped and counted, and the next host is told.
type outbox struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   [][]byte
	limit   int
	dropped int
	w       io.Writer
	closed  bool
	writing bool // a batch is being written outside the lock
	gen     int  // bumps on every attach, so a failed write detaches only its own writer
	notice  func(dropped int) []byte
	done    chan struct{}
}

func newOutbox(limit int, notice func(dropped int) []byte) *outbox {
	o := &outbox{limit: limit, notice: notice, done: make(chan struct{})}
	o.cond = sync.NewCond(&o.mu)
	go o.run()
	return o
}

// push queues a copy of b.
func (o *outbox) push(b []byte) {
	rec := append([]byte(nil), b...)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if len(o.queue) >= o.limit {
		o.queue[0] = nil
		o.queue = o.queue[1:]
		o.dropped++
	}
	o.queue = append(o.queue, rec)
	o.cond.Signal()
}

func (o *outbox) attach(w io.Writer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w = w
	o.gen++
	if o.dropped > 0 && o.notice != nil {
		o.queue = append([][]byte{o.notice(o.dropped)}, o.queue...)
		o.dropped = 0
	}
	o.cond.Signal()
}

func (o *outbox) detach() {
	o.mu.Lock()
	o.w = nil
	o.gen++
	o.mu.Unlock()
}

// flush waits until the queue is written or no writer is attached.
func (o *outbox) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for (len(o.queue) > 0 || o.writing) && o.w != nil && !o.closed {
		o.cond.Wait()
	}
}

// close stops the writer goroutine and waits for it.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
	<-o.done
}

func (o *outbox) run() {
	defer close(o.done)
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		for !o.closed && (len(o.queue) == 0 || o.w == nil) {
			o.cond.Wait()
		}
		if o.closed {
			return
		}
		batch, w, gen := o.queue, o.w, o.gen
		o.queue = nil
		o.writing = true
		o.mu.Unlock()
		n := 0
		var err error
		for _, rec := range batch {
			if _, err = w.Write(rec); err != nil {
				break
			}
			n++
		}
		o.mu.Lock()
		o.writing = false
		if err != nil {
			// Keep what was not written for the next host.
			o.queue = append(batch[n:], o.queue...)
			if o.gen == gen {
				o.w = nil
			}
		}
		o.cond.Broadcast()
	}
}
