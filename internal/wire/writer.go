package wire

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
)

// Writer serializes writes to one stream and coalesces them: a writer that
// finds others waiting leaves the flush to the last of them, so a burst of
// concurrent replies costs one write to the stream instead of one each.
// Safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	bw      *bufio.Writer
	waiting atomic.Int32
	err     error
}

// NewWriter returns a coalescing Writer over w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// Write writes the parts as one message. After the first failure every
// Write returns that error.
func (w *Writer) Write(parts ...[]byte) error {
	w.waiting.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting.Add(-1)
	if w.err != nil {
		return w.err
	}
	for _, p := range parts {
		if _, err := w.bw.Write(p); err != nil {
			w.err = err
			return err
		}
	}
	if w.waiting.Load() == 0 {
		w.err = w.bw.Flush()
	}
	return w.err
}
