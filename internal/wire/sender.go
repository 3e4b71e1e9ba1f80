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
// A writer with no deadline to keep (a reply: nobody waits on its
// goroutine) uses WriteNow instead, which writes on the caller's goroutine
// when no write is under way, saving the hand-off to Run; callers with a
// deadline keep Write's guarantee meanwhile, since they only queue.
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
	room  chan struct{} // closed when the queue is taken; made by the first Write to wait (nil: none waits)
	kick  chan struct{} // cap 1: the queue has something for Run
	// writing: Run or a WriteNow caller is writing; it takes what is
	// queued meanwhile before it stops writing.
	writing bool
}

// NewSender returns a Sender over w holding at most about limit queued
// bytes. done closes when the connection ends (a yamux session's
// CloseChan).
func NewSender(w io.Writer, limit int, done <-chan struct{}) *Sender {
	return &Sender{w: w, limit: limit, done: done, kick: make(chan struct{}, 1)}
}

// Write queues the parts as one message. It waits only while the queue is
// over its limit, and then at most until ctx ends, returning ctx's cause
// with nothing queued. When ctx can never end (no deadline, no cancel:
// the caller waits for its reply as long as the connection lives anyway)
// and no write is under way, it writes the message itself, as WriteNow
// // does, saving the hand-off to Run. After the stream failed it returns the
// stream's error; a message queued just before a failure is lost with the
// connection, which the reader of the peer's replies then reports.
func (s *Sender) Write(ctx context.Context, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	s.mu.Lock()
	if ctx.Done() == nil && n <= MaxCopy && s.err == nil && !s.writing && len(s.buf) == 0 {
		// Nothing can end this caller's wait (no deadline, no cancel), and
		// the stream is idle: write on its goroutine, as WriteNow does,
		// instead of handing the message to Run. A larger message is
		// copied and left to Run, which writes it as one frame: measured,
		// that moved 1 MiB echoes faster than two frames from here.
		return s.writeSelf(parts, n)
	}
	for s.err == nil && len(s.buf) > 0 && len(s.buf)+n > s.limit {
		if s.room == nil {
			s.room = make(chan struct{})
		}
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
	if s.writing {
		// The writer under way (Run or a WriteNow caller) takes the queue
		// before it stops writing: waking Run would be a wasted hand-off.
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// WriteNow writes the parts as one message. When no write is under way
// it writes them itself, on the caller's goroutine, together with what
// other callers queue meanwhile (after yielding once, so that those ready
// to write share the Write), and then what was queued while it wrote; the
// caller may so wait for a slow peer. Otherwise it queues them for the
// writer under way and returns. It never waits for room in the queue.
// A message of at most MaxCopy bytes goes to the stream in one Write.
func (s *Sender) WriteNow(parts ...[]byte) error {
	s.mu.Lock()
	if s.err != nil || s.writing || len(s.buf) > 0 {
		s.queueLocked(parts)
		err := s.err
		s.mu.Unlock()
		return err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return s.writeSelf(parts, n)
}

// writeSelf writes the parts, n bytes, on the caller's goroutine as the
// writer under way, and then what was queued meanwhile. s.mu is held, no
// write is under way and nothing is queued; it unlocks s.mu.
func (s *Sender) writeSelf(parts [][]byte, n int) error {
	s.writing = true
	if n > MaxCopy {
		// Very large: write it as it is rather than copy it into the
		// queue; the envelope and the payload go out as two frames.
		s.mu.Unlock()
		var err error
		for _, p := range parts {
			if _, err = s.w.Write(p); err != nil {
				break
			}
		}
		return s.drain(err)
	}
	s.queueLocked(parts)
	s.mu.Unlock()
	runtime.Gosched() // let other writers that are ready queue theirs
	return s.drain(nil)
}

// MaxCopy is the largest message WriteNow copies into the queue to write
// it with one stream Write. A stream Write is one yamux frame, and every
// frame costs a round trip through yamux's send loop (two goroutine
// hand-offs) on this side and a wake-up of the reader on the other; below
// this size copying the envelope and the payload together costs less than
// that second frame (a 256 KiB copy is a few tens of microseconds). A
// message at the bulk threshold (LargeThreshold), envelope included, is
// well under it: no step in latency where envelope plus payload crosses
// 64 KiB.
const MaxCopy = 256 << 10

// drain writes what is queued, as the writer under way, until the queue
// is empty or a write fails, then stops writing.
func (s *Sender) drain(err error) error {
	for err == nil {
		s.mu.Lock()
		out := s.takeLocked()
		if len(out) == 0 {
			s.writing = false
			err = s.err
			s.mu.Unlock()
			return err
		}
		s.mu.Unlock()
		_, err = s.w.Write(out)
		s.keepSpare(out)
	}
	s.fail(err)
	return err
}

// takeLocked takes the queue, waking writers waiting for room.
func (s *Sender) takeLocked() []byte {
	out := s.buf
	s.buf = s.spare[:0]
	s.spare = nil
	s.wakeLocked()
	return out
}

// wakeLocked wakes the Writes waiting for room. The channel is made only
// when one waits: most batches are taken with nobody waiting, and a
// channel per batch was an allocation per message.
func (s *Sender) wakeLocked() {
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
}

// keepSpare keeps a written batch's buffer for reuse.
func (s *Sender) keepSpare(out []byte) {
	if cap(out) <= maxSpare {
		s.mu.Lock()
		if s.spare == nil {
			s.spare = out[:0]
		}
		s.mu.Unlock()
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
		if s.writing || len(s.buf) == 0 {
			// A WriteNow caller is writing: it takes the queue.
			s.mu.Unlock()
			continue
		}
		s.writing = true
		out := s.takeLocked()
		s.mu.Unlock()
		if _, err := s.w.Write(out); err != nil {
			s.fail(err)
			return
		}
		s.keepSpare(out)
		s.mu.Lock()
		s.writing = false
		if len(s.buf) > 0 {
			// Queued by a WriteNow that found Run writing.
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		s.mu.Unlock()
	}
}

func (s *Sender) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.writing = false
	s.buf, s.spare = nil, nil
	s.wakeLocked()
	s.mu.Unlock()
}
