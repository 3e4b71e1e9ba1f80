package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// StreamItems names the yamux streams of streaming calls: the host opens
// one per call (shared.Stream), writes one request on it, and the worker
// answers with items and an end message on the same stream.
const StreamItems = "stream"

// MaxQueuedItems is how many bytes of whole items an ItemWriter holds
// beyond the batch being written before a Write waits for room. With the
// yamux stream window it bounds what a producer that outruns its consumer
// makes its side hold; a single larger item is still accepted when nothing
// else is queued.
const MaxQueuedItems = 1 << 20

// StreamWindow is how many bytes of a stream's messages the worker may
// have written that the host has not acknowledged (AppendAck). It bounds
// what a stream holds in the host's memory whatever the yamux stream
// window (16 MiB, for large calls). A single message larger than the
// window is written when everything before it was acknowledged.
const StreamWindow = 2 << 20

// AckEvery is how many bytes the host reads from a stream before it
// acknowledges them.
const AckEvery = StreamWindow / 4

// maxAckLine bounds an acknowledgement line: a decimal int64 and "\n".
const maxAckLine = 20

// AppendAck appends the acknowledgement of n bytes of a stream's messages:
// n in decimal ASCII, then "\n".
func AppendAck(dst []byte, n int64) []byte {
	return append(strconv.AppendInt(dst, n, 10), '\n')
}

// ReadAck reads one acknowledgement line from the host's side of a stream.
func ReadAck(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			err = fmt.Errorf("%w: acknowledgement longer than %d bytes", ErrMalformed, maxAckLine)
		}
		return 0, err
	}
	n, err := strconv.ParseInt(string(line[:len(line)-1]), 10, 64)
	if err != nil || n <= 0 || len(line) > maxAckLine {
		return 0, fmt.Errorf("%w: acknowledgement %q is not a positive byte count", ErrMalformed, line)
	}
	return n, nil
}

// ErrItemWriterClosed: Write after Close or Abort.
var ErrItemWriterClosed = errors.New("stream closed")

// ItemWriter queues whole messages for one stream and writes them,
// coalesced, from its own goroutine (Run). A producer that is faster than
// the stream queues up to a bound and then waits; a producer that is
// slower has each message written at once. Messages reach the stream whole
// and in the order their Writes returned.
//
// Safe for concurrent use. Run must be running for queued messages to be
// written; it returns after Close has written everything, after Abort, or
// when the stream fails.
type ItemWriter struct {
	w      io.Writer
	limit  int
	window int64

	mu      sync.Mutex
	buf     []byte        // queued whole messages
	spare   []byte        // the previous batch's buffer, for reuse
	err     error         // sticky: the stream's write error, or ErrItemWriterClosed after Abort
	closing bool          // Close was called: Run returns once buf is written
	unacked int64         // bytes written that the peer has not acknowledged
	acked   chan struct{} // closed (and replaced) by Ack and by a failure
	room    chan struct{} // closed (and replaced) when the queue is taken or the writer fails
	kick    chan struct{} // cap 1: the queue has something for Run
	done    chan struct{} // closed when Run returns
}

// NewItemWriter returns an ItemWriter over w holding at most about limit
// queued bytes, and having at most window bytes written that the reader
// has not acknowledged (Ack); 0 means no window.
func NewItemWriter(w io.Writer, limit, window int) *ItemWriter {
	return &ItemWriter{w: w, limit: limit, window: int64(window),
		room: make(chan struct{}), acked: make(chan struct{}), kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// Ack records that the reader has taken n more bytes, opening the window
// by as much. An acknowledgement of more than was written is an error.
func (iw *ItemWriter) Ack(n int64) error {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	if n > iw.unacked {
		return fmt.Errorf("%w: acknowledgement of %d bytes, only %d unacknowledged", ErrMalformed, n, iw.unacked)
	}
	iw.unacked -= n
	close(iw.acked)
	iw.acked = make(chan struct{})
	return nil
}

// waitWindow waits until n more bytes fit in the window, or the writer
// failed (its error).
func (iw *ItemWriter) waitWindow(n int) error {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	for iw.err == nil && iw.window > 0 && iw.unacked > 0 && iw.unacked+int64(n) > iw.window {
		acked := iw.acked
		iw.mu.Unlock()
		<-acked
		iw.mu.Lock()
	}
	if iw.err != nil {
		return iw.err
	}
	iw.unacked += int64(n)
	return nil
}

// Write queues the parts as one message. It waits while the queue is over
// its limit, at most until ctx ends, and then returns ctx's cause with
// nothing queued. After the stream failed (or Abort) it returns that
// error.
func (iw *ItemWriter) Write(ctx context.Context, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	iw.mu.Lock()
	for iw.err == nil && !iw.closing && len(iw.buf) > 0 && len(iw.buf)+n > iw.limit {
		room := iw.room
		iw.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		iw.mu.Lock()
	}
	defer iw.mu.Unlock()
	switch {
	case iw.err != nil:
		return iw.err
	case iw.closing:
		return ErrItemWriterClosed
	}
	for _, p := range parts {
		iw.buf = append(iw.buf, p...)
	}
	select {
	case iw.kick <- struct{}{}:
	default:
	}
	return nil
}

// Close queues the parts as the last message (none: nothing more) and
// waits until Run has written everything queued, or ctx ends. It returns
// the stream's error, if writing failed.
func (iw *ItemWriter) Close(ctx context.Context, parts ...[]byte) error {
	if err := iw.Write(ctx, parts...); err != nil {
		iw.Abort(err)
		return err
	}
	iw.mu.Lock()
	iw.closing = true
	iw.mu.Unlock()
	select {
	case iw.kick <- struct{}{}:
	default:
	}
	select {
	case <-iw.done:
	case <-ctx.Done():
		iw.Abort(context.Cause(ctx))
		return context.Cause(ctx)
	}
	iw.mu.Lock()
	defer iw.mu.Unlock()
	return iw.err
}

// Abort drops what is queued and makes Run return once the write under
// way (if any) ends; later Writes fail with err. Close the stream under
// the writer to end a write that waits for the peer.
func (iw *ItemWriter) Abort(err error) {
	iw.fail(err)
	select {
	case iw.kick <- struct{}{}:
	default:
	}
}

// Done is closed when Run has returned.
func (iw *ItemWriter) Done() <-chan struct{} { return iw.done }

// Run writes what is queued until Close has had everything written, Abort
// was called, or the stream fails. Exactly one goroutine runs it.
func (iw *ItemWriter) Run() {
	defer close(iw.done)
	for {
		<-iw.kick
		iw.mu.Lock()
		out, closing, err := iw.buf, iw.closing, iw.err
		iw.buf = iw.spare[:0]
		iw.spare = nil
		close(iw.room)
		iw.room = make(chan struct{})
		iw.mu.Unlock()
		if err != nil {
			return
		}
		if len(out) > 0 {
			if err := iw.waitWindow(len(out)); err != nil {
				return
			}
			if _, err := iw.w.Write(out); err != nil {
				iw.fail(err)
				return
			}
		}
		iw.mu.Lock()
		if cap(out) <= 2*iw.limit && iw.spare == nil {
			iw.spare = out[:0]
		}
		last := closing && len(iw.buf) == 0
		iw.mu.Unlock()
		if last {
			return
		}
	}
}

func (iw *ItemWriter) fail(err error) {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	if iw.err == nil {
		iw.err = err
	}
	iw.buf, iw.spare = nil, nil
	close(iw.room)
	iw.room = make(chan struct{})
	close(iw.acked)
	iw.acked = make(chan struct{})
}
