package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Errors of streams a caller can match with errors.Is.
var (
	// ErrStreamUnsupported: the worker closed a stream without answering
	// it: it was built with a version of the library without streams.
	ErrStreamUnsupported = errors.New("worker does not serve streams")
	// ErrStreamConsumed: the sequence Stream returned was ranged over a
	// second time. Each call of Stream is one streaming call.
	ErrStreamConsumed = errors.New("stream already consumed")
	// ErrStreamBroken: the worker ended a stream without its end message,
	// while the connection works.
	ErrStreamBroken = errors.New("stream ended without its end message")
)

// Stream sends req to the worker as the stream s and returns the items the
// worker's handler (plugin.HandleStream) sends, in order, as a sequence to
// range over once:
//
//	for item, err := range host.Stream(ctx, w, Lines, req) {
//		if err != nil {
//			return err // the stream failed; it is the last value
//		}
//		use(item)
//	}
//
// The request goes out when the range starts. Every value but the last has
// a nil error. When the handler returns nil the range ends after the last
// item; when the stream fails, the last value is the zero Item and the
// error: a *shared.RemoteError for the handler's error, an *ExitError when
// the worker crashed, ErrConnectionLost, ErrWorkerClosed, the context's
// error when ctx ended (ctx's deadline is the handler's), a
// *shared.FrameTooLargeError for an item over the host's MaxFrameSize or
// MaxRawSize, ErrStreamUnsupported for a worker without streams: the
// errors of Call. A stream has no timeout but ctx's (CallTimeout and
// message timeouts do not apply).
//
// Stopping the range early (break, return) or ctx ending cancels the
// stream: the worker's handler context is cancelled at once and its sends
// fail. Flow control is the stream's own: a handler that produces faster
// than the loop consumes is slowed down, and neither process holds more
// than a bounded amount of the stream (the yamux stream window, 16 MiB, on
// the host; about 1 MiB queued on the worker), whatever its length. Each
// stream has its own yamux stream, so a slow stream holds up no call or
// other stream. An item of type []byte travels raw and is the consumer's
// to keep.
//
// Events the handler emitted before it returned have been delivered to
// OnEvent and Status when the range ends, as for Call (or the last error
// matches ErrEventsPending). Outgoing middleware sees the request; incoming
// middleware sees the stream's end once (a result without payload, or the
// error), also after an early stop; items pass no middleware. Shutdown
// waits for the streams under way.
func Stream[Req, Item any](ctx context.Context, w *Worker, s shared.Stream[Req, Item], req Req) iter.Seq2[Item, error] {
	var used atomic.Bool
	return func(yield func(Item, error) bool) {
		var zero Item
		if used.Swap(true) {
			yield(zero, fmt.Errorf("stream %q on worker %q: %w", s.Name(), w.cfg.Name, ErrStreamConsumed))
			return
		}
		is, err := w.openItems(ctx, s.Name(), req)
		finished := false
		defer func() {
			if !finished { // the loop's body panicked: end the stream all the same
				is.finish(nil, true)
			}
		}()
		for err == nil {
			var item Item
			var more bool
			if more, err = is.next(&item); err != nil || !more {
				break
			}
			if !yield(item, nil) {
				finished = true
				is.finish(nil, true)
				return
			}
		}
		finished = true
		if err = is.finish(err, false); err != nil {
			yield(zero, err)
		}
	}
}

// itemStream is one streaming call on its own yamux stream.
type itemStream struct {
	w     *Worker
	ctx   context.Context
	typ   string
	txID  string
	ran   shared.Middleware // the middleware that saw the request
	c     *conn             // nil until a connection took the stream
	cl    *call             // in c.pending, for the events of the stream
	st    *yamux.Stream
	r     *frame.Reader
	began bool // a message came
	// Read bytes not yet acknowledged (ackReader), and the buffer of the
	// acknowledgements.
	unacked int64
	ackBuf  []byte
	end     map[string]string // the end message's headers

	stop       func() bool   // stops the context's AfterFunc
	cancelDone chan struct{} // closed when that AfterFunc has run
	mu         sync.Mutex
	cancelled  bool // the context ended: the read deadline stays in the past
}

// openItems opens a stream for the request req of the stream typ and
// writes the request. It returns the stream also with an error, for
// finish to run the middleware that saw the request.
func (w *Worker) openItems(ctx context.Context, typ string, req any) (*itemStream, error) {
	is := &itemStream{w: w, ctx: ctx, typ: typ}
	if err := ctx.Err(); err != nil {
		return is, context.Cause(ctx)
	}
	msg := shared.AnyMessage{Kind: shared.KindRequest, Type: typ, Headers: shared.HeadersFrom(ctx), Payload: req}
	msg.TxID = w.cfg.TxIDGenerator(&msg)
	is.txID = msg.TxID
	if w.mw != nil {
		hd := make(map[string]string, len(msg.Headers)+1)
		maps.Copy(hd, msg.Headers)
		msg.Headers = hd
		is.ran = w.mw
		if err := w.mw(ctx, shared.Outgoing, &msg); err != nil {
			is.ran = w.ranBefore(err)
			return is, err
		}
	}
	w.state.RLock()
	c, err := w.activeConn()
	if err == nil {
		w.calls.Add(1)
		is.c = c
	}
	w.state.RUnlock()
	if err != nil {
		return is, err
	}
	h := wire.Header{Version: w.version, Kind: shared.KindRequest, Type: typ, ID: msg.TxID, Headers: msg.Headers}
	if d, ok := ctx.Deadline(); ok {
		h.Deadline = d.UnixNano()
	}
	// The request is refused here if it is over the worker's limits.
	out, raw, err := c.codec.Encode([]byte(wire.StreamItems+"\n"), &h, msg.Payload)
	if err != nil {
		return is, err
	}
	cl := &call{done: make(chan reply, 1), evCh: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.failErr != nil {
		err := c.failErr
		c.mu.Unlock()
		return is, err
	}
	if _, dup := c.pending[msg.TxID]; dup {
		c.mu.Unlock()
		return is, fmt.Errorf("%w: %q", shared.ErrDuplicateTxID, msg.TxID)
	}
	c.pending[msg.TxID] = cl
	c.mu.Unlock()
	is.cl = cl

	st, err := c.openItemStream(ctx)
	if err != nil {
		return is, is.streamErr(err)
	}
	is.st = st
	is.cancelDone = make(chan struct{})
	is.stop = context.AfterFunc(ctx, is.cancel)
	if _, err := st.Write(out); err != nil {
		return is, is.streamErr(err)
	}
	if len(raw) > 0 {
		if _, err := st.Write(raw); err != nil {
			return is, is.streamErr(err)
		}
	}
	is.r = frame.NewReader(bufio.NewReaderSize(ackReader{is}, 64<<10), w.codec.Terminator(), w.codec.MaxFrame())
	is.r.SetStallTimeout(rawStallTimeout, is.setReadDeadline)
	return is, nil
}

// ackReader reads the stream and acknowledges what it read, every
// wire.AckEvery bytes: the worker writes at most wire.StreamWindow bytes
// ahead of the acknowledgements, so a stream holds at most that much of the
// host's memory (plus the reader's buffer and one item), whatever the
// yamux window.
type ackReader struct{ is *itemStream }

func (a ackReader) Read(p []byte) (int, error) {
	is := a.is
	n, err := is.st.Read(p)
	if is.unacked += int64(n); is.unacked >= wire.AckEvery {
		is.ackBuf = wire.AppendAck(is.ackBuf[:0], is.unacked)
		is.unacked = 0
		is.st.Write(is.ackBuf) // a failure shows in the next read
	}
	return n, err
}

// openItemStream opens a yamux stream, waiting at most until ctx ends:
// yamux's OpenStream waits while the worker has not accepted as many
// streams as its accept backlog (see connect), and a worker that is
// stopped accepts none. A stream opened after ctx ended is closed.
func (c *conn) openItemStream(ctx context.Context) (*yamux.Stream, error) {
	type opened struct {
		st  *yamux.Stream
		err error
	}
	ch := make(chan opened, 1)
	if !c.goTracked(func() {
		st, err := c.ymx.OpenStream()
		ch <- opened{st, err}
	}) {
		return nil, ErrWorkerClosed
	}
	select {
	case o := <-ch:
		return o.st, o.err
	case <-ctx.Done():
		c.goTracked(func() {
			if o := <-ch; o.st != nil {
				o.st.Close()
			}
		})
		return nil, context.Cause(ctx)
	}
}

// goTracked runs fn on a goroutine that Close waits for (closing the
// session ends fn), unless the worker is closing: then it reports false.
// Close sets closing before it waits, so no goroutine starts behind it.
func (c *conn) goTracked(fn func()) bool {
	c.w.state.RLock()
	defer c.w.state.RUnlock()
	if c.w.closing {
		return false
	}
	c.goRead(fn)
	return true
}

// cancel runs when the stream's context ends: a read under way returns at
// once, and closing the host's side tells the worker.
func (is *itemStream) cancel() {
	defer close(is.cancelDone)
	is.mu.Lock()
	is.cancelled = true
	is.st.SetReadDeadline(time.Unix(1, 0))
	is.mu.Unlock()
	is.st.Close() // wakes the read, which then finds the deadline passed
}

// setReadDeadline is the frame reader's stall deadline, which must not
// undo a cancellation's.
func (is *itemStream) setReadDeadline(t time.Time) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.cancelled {
		return nil
	}
	return is.st.SetReadDeadline(t)
}

// streamErr is the error of a stream whose read or write failed with err.
func (is *itemStream) streamErr(err error) error {
	if is.ctx.Err() != nil {
		return context.Cause(is.ctx)
	}
	if is.c.ymx.IsClosed() {
		// The connection ended (the worker died, Close, Disconnect): the
		// error every call of the connection gets.
		is.c.lost(err)
		return is.c.err()
	}
	switch {
	case errors.Is(err, io.EOF) && !is.began:
		return fmt.Errorf("%w: worker closed the stream without an answer (built with an older version of the library?)", ErrStreamUnsupported)
	case errors.Is(err, io.EOF):
		return ErrStreamBroken
	case errors.Is(err, yamux.ErrConnectionReset):
		return fmt.Errorf("%w: worker reset the stream (its backlog of streams not yet accepted was full?): %w", ErrStreamBroken, err)
	}
	return err
}

// next reads the next message of the stream: an item, decoded into item
// (more is true), or the end (more is false; err is the stream's error).
func (is *itemStream) next(item any) (more bool, err error) {
	h, body, err := is.w.codec.Read(is.r)
	if err == nil && is.ctx.Err() != nil {
		return false, context.Cause(is.ctx) // stop at once, even with items buffered
	}
	if err != nil {
		var tl *shared.FrameTooLargeError
		if errors.As(err, &tl) && h.Kind == shared.KindItem {
			return false, fmt.Errorf("item from worker %q: %w", is.w.cfg.Name, tl)
		}
		if is.ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, yamux.ErrConnectionReset) && !is.c.ymx.IsClosed() {
			return false, err // malformed, stalled: the stream is out of step
		}
		return false, is.streamErr(err)
	}
	is.began = true
	if h.ID != is.txID {
		return false, fmt.Errorf("%w: %s for transaction id %q on the stream of %q", wire.ErrMalformed, h.Kind, h.ID, is.txID)
	}
	switch h.Kind {
	case shared.KindItem:
		if err := is.w.codec.DecodeBody(&h, body, item); err != nil {
			return false, err
		}
		return true, nil
	case shared.KindResult, shared.KindError:
		is.end = h.Headers
		var endErr error
		if h.Kind == shared.KindError {
			re := new(shared.RemoteError)
			if err := is.w.codec.DecodeBody(&h, body, re); err != nil {
				return false, fmt.Errorf("decode error reply: %w", err)
			}
			endErr = re
		}
		if err := is.waitEvents(h.Events); err != nil {
			return false, err
		}
		return false, endErr
	}
	return false, fmt.Errorf("%w: %s on a stream", wire.ErrMalformed, h.Kind)
}

// waitEvents waits until the n events the handler emitted before it
// returned were delivered, as a call does.
func (is *itemStream) waitEvents(n int) error {
	c, cl := is.c, is.cl
	c.mu.Lock()
	switch {
	case c.pending[is.txID] != cl:
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		return fmt.Errorf("%w: the connection failed: %w", ErrEventsPending, c.err())
	case n > cl.events:
		cl.replied, cl.want = true, n
		c.mu.Unlock()
		return c.waitEvents(is.ctx, is.txID, cl)
	}
	delete(c.pending, is.txID)
	c.mu.Unlock()
	return nil
}

// finish ends the stream (cancelling it on the worker if it is under way),
// runs the incoming middleware on its end and returns its error. stopped
// says the consumer stopped ranging; the middleware then sees a result.
func (is *itemStream) finish(err error, stopped bool) error {
	if is.st != nil {
		if !is.stop() {
			<-is.cancelDone
		}
		is.st.Close()
	}
	if c := is.c; c != nil {
		if is.cl != nil {
			c.mu.Lock()
			if c.pending[is.txID] == is.cl {
				delete(c.pending, is.txID)
			}
			c.mu.Unlock()
		}
		is.w.calls.Done()
	}
	if is.ran != nil {
		msg := shared.AnyMessage{Kind: shared.KindResult, Type: is.typ, TxID: is.txID, Headers: is.end}
		if err != nil {
			msg.Kind, msg.Payload = shared.KindError, err
		}
		mwErr := is.ran(is.ctx, shared.Incoming, &msg)
		switch {
		case stopped:
		case mwErr != nil && err == nil:
			err = mwErr
		case mwErr != nil:
			err = fmt.Errorf("%w; %w", err, mwErr)
		}
	}
	if err != nil {
		return fmt.Errorf("stream %q on worker %q: %w", is.typ, is.w.cfg.Name, err)
	}
	return nil
}
