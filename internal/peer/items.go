package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Errors of streams a caller can match with errors.Is.
var (
	// ErrStreamUnsupported: the peer closed a stream without answering
	// it: it was built with a version of the library without streams.
	ErrStreamUnsupported = errors.New("worker does not serve streams")
	// ErrStreamBroken: the peer ended a stream without its end message,
	// while the connection works.
	ErrStreamBroken = errors.New("stream ended without its end message")
)

// Items is one streaming call as its caller sees it, on a yamux stream of
// its own (handshake/PROTOCOL.md §10a). Make one with Caller.Stream, read
// it with Next until that reports no more, then call Finish once. One
// goroutine uses it at a time.
type Items struct {
	cl      *Caller
	ctx     context.Context
	typ     string
	txID    string
	ran     shared.Middleware // the middleware that saw the request
	c       *Conn             // nil until a connection took the stream
	release func()
	pc      *call // in c.pending, for the events of the stream
	st      *yamux.Stream
	r       *frame.Reader
	began   bool // a message came
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

// Stream sends req as the stream typ on the connection cl acquires, on a
// stream of its own, after the outgoing middleware. It always returns the
// Items, also with an error: Finish must run, for the middleware that saw
// the request and to release the connection. A stream has no timeout but
// ctx's.
func (cl *Caller) Stream(ctx context.Context, typ string, req any) (*Items, error) {
	is := &Items{cl: cl, ctx: ctx, typ: typ}
	if err := ctx.Err(); err != nil {
		return is, context.Cause(ctx)
	}
	msg := shared.AnyMessage{Kind: shared.KindRequest, Type: typ, Headers: shared.HeadersFrom(ctx), Payload: req}
	msg.TxID = cl.TxID(&msg)
	is.txID = msg.TxID
	if cl.Middleware != nil {
		hd := make(map[string]string, len(msg.Headers)+1)
		maps.Copy(hd, msg.Headers)
		msg.Headers = hd
		is.ran = cl.Middleware
		if err := cl.Middleware(ctx, shared.Outgoing, &msg); err != nil {
			is.ran = cl.ranBefore(err)
			return is, err
		}
	}
	c, release, err := cl.Acquire(ctx)
	if err != nil {
		return is, err
	}
	is.c, is.release = c, release
	return is, c.openItems(is, &msg)
}

// openItems registers the stream's call (for its events), opens its yamux
// stream and writes the request.
func (c *Conn) openItems(is *Items, msg *shared.AnyMessage) error {
	h := wire.Header{Version: c.cfg.Version, Kind: shared.KindRequest, Type: msg.Type, ID: msg.TxID, Headers: msg.Headers}
	if d, ok := is.ctx.Deadline(); ok {
		h.Deadline = d.UnixNano()
	}
	// The request is refused here if it is over the peer's limits.
	out, raw, err := c.cfg.SendCodec.Encode([]byte(wire.StreamItems+"\n"), &h, msg.Payload)
	if err != nil {
		return err
	}
	pc := &call{done: make(chan reply, 1), evCh: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.failErr != nil {
		err := c.failErr
		c.mu.Unlock()
		return err
	}
	if _, dup := c.pending[msg.TxID]; dup {
		c.mu.Unlock()
		return fmt.Errorf("%w: %q", shared.ErrDuplicateTxID, msg.TxID)
	}
	c.pending[msg.TxID] = pc
	c.mu.Unlock()
	is.pc = pc

	st, err := c.openItemStream(is.ctx)
	if err != nil {
		return is.streamErr(err)
	}
	is.st = st
	is.cancelDone = make(chan struct{})
	is.stop = context.AfterFunc(is.ctx, is.cancel)
	if _, err := st.Write(out); err != nil {
		return is.streamErr(err)
	}
	if len(raw) > 0 {
		if _, err := st.Write(raw); err != nil {
			return is.streamErr(err)
		}
	}
	is.r = frame.NewReader(bufio.NewReaderSize(ackReader{is}, 64<<10), c.cfg.Codec.Terminator(), c.cfg.Codec.MaxFrame())
	is.r.SetStallTimeout(c.cfg.StallTimeout, is.setReadDeadline)
	return nil
}

// ackReader reads the stream and acknowledges what it read, every
// wire.AckEvery bytes: the peer writes at most wire.StreamWindow bytes
// ahead of the acknowledgements, so a stream holds at most that much of
// the caller's memory (plus the reader's buffer and one item), whatever
// the yamux window.
type ackReader struct{ is *Items }

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
// yamux's OpenStream waits while the peer has not accepted as many streams
// as its accept backlog, and a peer that is stopped accepts none. A stream
// opened after ctx ended is closed. The open runs on a goroutine Wait
// waits for (closing the session ends it), unless the connection failed.
func (c *Conn) openItemStream(ctx context.Context) (*yamux.Stream, error) {
	type opened struct {
		st  *yamux.Stream
		err error
	}
	ch := make(chan opened, 1)
	open := func() {
		st, err := c.ymx.OpenStream()
		ch <- opened{st, err}
	}
	// Under mu, so that no goroutine starts after the connection failed:
	// end fails the connection before anyone waits for its goroutines.
	c.mu.Lock()
	if err := c.failErr; err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.Go(open)
	c.mu.Unlock()
	select {
	case o := <-ch:
		return o.st, o.err
	case <-ctx.Done():
		c.Go(func() {
			if o := <-ch; o.st != nil {
				o.st.Close()
			}
		})
		return nil, context.Cause(ctx)
	}
}

// cancel runs when the stream's context ends: a read under way returns at
// once, and closing the caller's side tells the peer.
func (is *Items) cancel() {
	defer close(is.cancelDone)
	is.mu.Lock()
	is.cancelled = true
	is.st.SetReadDeadline(time.Unix(1, 0))
	is.mu.Unlock()
	is.st.Close() // wakes the read, which then finds the deadline passed
}

// setReadDeadline is the frame reader's stall deadline, which must not
// undo a cancellation's.
func (is *Items) setReadDeadline(t time.Time) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.cancelled {
		return nil
	}
	return is.st.SetReadDeadline(t)
}

// streamErr is the error of a stream whose read or write failed with err.
func (is *Items) streamErr(err error) error {
	if is.ctx.Err() != nil {
		return context.Cause(is.ctx)
	}
	if is.c.ymx.IsClosed() {
		// The connection ended (the peer died, Close, Disconnect): the
		// error every call of the connection gets.
		is.c.lost(err)
		return is.c.ended()
	}
	switch {
	case errors.Is(err, io.EOF) && !is.began:
		return fmt.Errorf("%w: %s closed the stream without an answer (built with an older version of the library?)", ErrStreamUnsupported, is.c.cfg.Peer)
	case errors.Is(err, io.EOF):
		return ErrStreamBroken
	case errors.Is(err, yamux.ErrConnectionReset):
		return fmt.Errorf("%w: %s reset the stream (its backlog of streams not yet accepted was full?): %w", ErrStreamBroken, is.c.cfg.Peer, err)
	}
	return err
}

// Next reads the next message of the stream: an item, decoded into item
// (more is true), or the end (more is false; err is the stream's error).
func (is *Items) Next(item any) (more bool, err error) {
	c := is.c
	h, body, err := c.cfg.Codec.Read(is.r)
	if err == nil && is.ctx.Err() != nil {
		return false, context.Cause(is.ctx) // stop at once, even with items buffered
	}
	if err != nil {
		var tl *shared.FrameTooLargeError
		if errors.As(err, &tl) && h.Kind == shared.KindItem {
			return false, fmt.Errorf("item from %s: %w", c.cfg.Peer, tl)
		}
		if is.ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, yamux.ErrConnectionReset) && !c.ymx.IsClosed() {
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
		if err := c.cfg.Codec.DecodeBody(&h, body, item); err != nil {
			return false, err
		}
		return true, nil
	case shared.KindResult, shared.KindError:
		is.end = h.Headers
		var endErr error
		if h.Kind == shared.KindError {
			re := new(shared.RemoteError)
			if err := c.cfg.Codec.DecodeBody(&h, body, re); err != nil {
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
func (is *Items) waitEvents(n int) error {
	c, pc := is.c, is.pc
	c.mu.Lock()
	switch {
	case c.pending[is.txID] != pc:
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		return fmt.Errorf("%w: the connection failed: %w", ErrEventsPending, c.ended())
	case n > pc.events:
		pc.replied, pc.want = true, n
		c.mu.Unlock()
		return c.waitEvents(is.ctx, is.txID, pc)
	}
	delete(c.pending, is.txID)
	c.mu.Unlock()
	return nil
}

// Finish ends the stream (cancelling it on the peer if it is under way),
// releases its connection, runs the incoming middleware on its end and
// returns err, with the middleware's error added. stopped says the
// consumer stopped ranging; the middleware then sees a result and its
// error is ignored.
func (is *Items) Finish(err error, stopped bool) error {
	if is.st != nil {
		if !is.stop() {
			<-is.cancelDone
		}
		is.st.Close()
	}
	if c := is.c; c != nil {
		if is.pc != nil {
			c.mu.Lock()
			if c.pending[is.txID] == is.pc {
				delete(c.pending, is.txID)
			}
			c.mu.Unlock()
		}
		is.release()
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
	return err
}
