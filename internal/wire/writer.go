package wire

import (
	"bufio"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// Writer serializes writes to one stream and coalesces them. A message is
// appended to a buffer; the first writer that finds no flush under way
// becomes the flusher, yields once so that other goroutines ready to write
// can append theirs, and then writes everything pending in one Write. Under
// load many calls or replies share one yamux frame and one syscall; alone,
// a message costs one Gosched more than a direct write.
//
// Safe for concurrent use.
type Writer struct {
	mu       sync.Mutex
	bw       *bufio.Writer
	err      error
	flushing atomic.Bool
	dirty    atomic.Bool // bytes appended since the last flush
}

// NewWriter returns a coalescing Writer over w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// Write queues the parts as one message and makes sure they are flushed,
// by this goroutine or by the flusher under way. It returns the stream's
// error once one has happened; a message queued just before a failure may
// be lost with the connection, which the reader then reports.
func (w *Writer) Write(parts ...[]byte) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	for _, p := range parts {
		if _, err := w.bw.Write(p); err != nil {
			w.err = err
			w.mu.Unlock()
			return err
		}
	}
	w.dirty.Store(true)
	w.mu.Unlock()

	for w.dirty.Load() && w.flushing.CompareAndSwap(false, true) {
		runtime.Gosched() // let writers that are ready append before the flush
		w.mu.Lock()
		w.dirty.Store(false)
		if w.err == nil {
			w.err = w.bw.Flush()
		}
		err := w.err
		w.mu.Unlock()
		w.flushing.Store(false)
		if err != nil {
			return err
		}
		// Loop: a writer that appended while we flushed saw flushing set
		// and left its bytes to us.
	}
	return nil
}
