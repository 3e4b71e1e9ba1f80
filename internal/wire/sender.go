package wire

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
)

// MaxQueued is how many bytes of whole messages a Sender holds for its
// stream beyond the batch being written, before a Write waits for room.
// It bounds the memory a peer that stopped reading (stopped, starved,
// swapped out) can make the other side hold; a single larger message is
// still accepted when nothing else is queued.
const MaxQueued = 4 << 20

// ErrSenderClosed is returned by a Sender whose connection closed before
// the message was queued.
var ErrSenderClosed = errors.New("connection closed")

// Sender queues whole messages for one stream and writes them, coalesced,
// from its own goroutine (Run). A caller never waits for the stream: Write
// copies the message into the queue and returns, so a peer that is slow to
// read delays the messages, never the callers, and a caller whose context
// ends while the queue is full gives up that one message, which was never
// queued; the stream's framing is untouched. Messages reach the stream
// whole and in the order their Writes returned.
//
// Safe for concurrent use. Run must be running for queued messages to be
// written; it returns when the done channel given to NewSender closes.
type Sender struct {
	w     io.Writer
	limit int
	done  <-chan struct{}

	mu    sync.Mutex
	buf   []byte        // queued whole messages
	spare []byte        // the previous batch's buffer, for reuse
	err   error         // the stream's write error; sticky
	room  chan struct{} // closed (and replaced) when the queue is taken
	kick  chan struct{} // cap 1: the queue has something for Run
}

// NewSender returns a Sender over w holding at most about limit queued
// bytes. done closes when the connection ends (a yamux session's
// CloseChan).
func NewSender(w io.Writer, limit int, done <-chan struct{}) *Sender {
	return &Sender{w: w, limit: limit, done: done, room: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// Write queues the parts as one message. It waits only while the queue is
// over its limit, and then at most until ctx ends, returning ctx's cause
// with nothing queued. After the stream failed it returns the stream's
// error; a message queued just before a failure is lost with the
// connection, which the reader of the peer's replies then reports.
func (s *Sender) Write(ctx context.Context, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	s.mu.Lock()
	for s.err == nil && len(s.buf) > 0 && len(s.buf)+n > s.limit {
		room := s.room
		s.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.done:
			return ErrSenderClosed
		}
		s.mu.Lock()
	}
	s.queueLocked(parts)
	err := s.err
	s.mu.Unlock()
	return err
}

// Queue queues the parts as one message without waiting for room: for
// small control messages (a cancel) that must not wait behind the limit.
func (s *Sender) Queue(parts ...[]byte) error {
	s.mu.Lock()
	s.queueLocked(parts)
	err := s.err
	s.mu.Unlock()
	return err
}

func (s *Sender) queueLocked(parts [][]byte) {
	if s.err != nil {
		return
	}
	for _, p := range parts {
		s.buf = append(s.buf, p...)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// maxSpare is the largest batch buffer kept for reuse; a larger one is
// left to the garbage collector. It holds a batch of MaxQueued bytes: a
// large payload (1 MiB and more) then goes into warm memory instead of a
// fresh allocation each time, which cost a 1 MiB echo about half its
// throughput.
const maxSpare = MaxQueued + 64<<10

// Run writes what is queued until the connection ends or the stream fails.
// Exactly one goroutine runs it.
func (s *Sender) Run() {
	for {
		select {
		case <-s.kick:
		case <-s.done:
			s.fail(ErrSenderClosed)
			return
		}
		// The writer that woke us may be one of many ready to write: let
		// them queue theirs first, so that one write carries them all.
		// (A woken goroutine runs before the others ready on its CPU.)
		runtime.Gosched()
		s.mu.Lock()
		out := s.buf
		s.buf = s.spare[:0]
		s.spare = nil
		close(s.room)
		s.room = make(chan struct{})
		s.mu.Unlock()
		if len(out) == 0 {
			continue
		}
		if _, err := s.w.Write(out); err != nil {
			s.fail(err)
			return
		}
		if cap(out) <= maxSpare {
			s.mu.Lock()
			if s.spare == nil {
				s.spare = out[:0]
			}
			s.mu.Unlock()
		}
	}
}

func (s *Sender) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.buf, s.spare = nil, nil
	close(s.room)
	s.room = make(chan struct{})
	s.mu.Unlock()
}
