package host

import (
	"bytes"
	"sync"
)

// maxLineChunk is the longest piece of a line passed on at once; a longer
// line is passed on in pieces, so nothing is lost and memory stays bounded.
const maxLineChunk = 1 << 20

// lineWriter splits what is written into lines for fn, keeping the last
// tail bytes for error reports. Safe for concurrent use.
type lineWriter struct {
	mu      sync.Mutex
	fn      func(line []byte, partial bool)
	partial []byte
	tail    []byte
	tailMax int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	w.keepTail(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			for len(w.partial) >= maxLineChunk {
				w.fn(w.partial[:maxLineChunk], true)
				w.partial = append(w.partial[:0], w.partial[maxLineChunk:]...)
			}
			break
		}
		line := p[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		for len(line) > maxLineChunk {
			w.fn(line[:maxLineChunk], true)
			line = line[maxLineChunk:]
		}
		w.fn(bytes.TrimSuffix(line, []byte{'\r'}), false)
		p = p[i+1:]
	}
	return n, nil
}

// flush passes on an unfinished last line.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.fn(w.partial, false)
		w.partial = nil
	}
}

func (w *lineWriter) keepTail(p []byte) {
	if w.tailMax == 0 {
		return
	}
	w.tail = append(w.tail, p...)
	if over := len(w.tail) - w.tailMax; over > 0 {
		w.tail = append(w.tail[:0], w.tail[over:]...)
	}
}

// Tail returns the last bytes written.
func (w *lineWriter) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.tail)
}
