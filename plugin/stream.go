package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// errStreamCancelled is the cause of a stream handler's context when the
// host closed the stream before its end: it stopped ranging (break) or its
// context ended.
var errStreamCancelled = errors.New("stream cancelled by the host")

// ErrStreamEnded: a stream handler's send was called after the handler
// returned.
var ErrStreamEnded = errors.New("plugin: stream already ended: send only while the stream handler runs")

// streamHandler serves a stream (HandleStream).
type streamHandler struct {
	run func(ctx context.Context, req any, send func(item any) error) error
}

// HandleStream binds fn to the stream s. The compiler checks that fn takes
// s's request type and sends s's item type. Put it among the worker's
// Handlers like a Handle.
//
// fn runs on its own goroutine, concurrently with other calls and streams.
// Each send writes one item to the host, in order; it blocks while the host
// is slower than fn (the stream's flow control: neither side holds more
// than a bounded amount), and returns an error once the stream cannot go
// on: fn's context ended (the host stopped ranging or cancelled, the
// stream's deadline passed, the host went away), or the item could not be
// encoded (larger than MaxFrameSize or MaxRawSize, for instance). send may
// be called from several goroutines, but only while fn runs.
//
// When fn returns nil the host's range ends without an error; an error
// ends it with a *shared.RemoteError, as for a call. Events fn emits
// (Emit, StatusPublisher) reach the host before its range ends. Incoming
// middleware sees the request and outgoing middleware the stream's end
// (a result without payload, or the error); items pass no middleware. A
// panic in fn is recovered and ends the stream with code shared.CodePanic.
//
// A host that calls a stream with host.Call gets a *shared.RemoteError of
// code shared.CodeUnknownMessage.
func HandleStream[Req, Item any](s shared.Stream[Req, Item], fn func(ctx context.Context, req Req, send func(Item) error) error) Handler {
	name := s.Name()
	return Handler{
		name: name,
		decode: func(c *wire.Codec, h *wire.Header, body []byte) (any, error) {
			var req Req
			err := c.DecodeBody(h, body, &req)
			return req, err
		},
		call: func(context.Context, any) (any, error) {
			return nil, &shared.RemoteError{Code: shared.CodeUnknownMessage,
				Message: fmt.Sprintf("%q is a stream: range over host.Stream instead of calling it", name)}
		},
		stream: &streamHandler{run: func(ctx context.Context, req any, send func(any) error) error {
			r, ok := req.(Req)
			if !ok {
				var want Req
				return fmt.Errorf("middleware replaced the request with a %T, stream handler takes %T", req, want)
			}
			return fn(ctx, r, func(it Item) error { return send(it) })
		}},
	}
}

// serveItems serves one stream the host opened for a streaming call: it
// reads the request, runs the stream handler with its items going back on
// st, and ends with a result or an error. The host closing st cancels the
// handler.
func (c *hostConn) serveItems(st *yamux.Stream, br *bufio.Reader) {
	iw := wire.NewItemWriter(st, wire.MaxQueuedItems, wire.StreamWindow)
	c.streams.Add(1)
	go func() {
		defer c.streams.Done()
		iw.Run()
	}()
	defer func() {
		// Ends a write that waits for a host that stopped reading, and
		// with it the writer.
		st.Close()
		iw.Abort(ErrStreamEnded)
		<-iw.Done()
	}()

	h, body, err := c.s.codec.Read(c.frameReader(st, br))
	var tl *shared.FrameTooLargeError
	switch {
	case errors.As(err, &tl) && h.ID != "" && h.Kind == shared.KindRequest:
		c.s.logger.Warn("refused a stream request that is too large", "type", h.Type, "txid", h.ID, "error", tl)
		c.endItems(c.ctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError, Payload: &shared.RemoteError{Code: shared.CodeFrameTooLarge, Message: tl.Error()}})
		return
	case err != nil:
		if !errors.Is(err, io.EOF) && c.ctx.Err() == nil {
			c.s.logger.Warn("bad request on a stream from the host; closing the stream", "error", err)
		}
		return
	case h.Kind != shared.KindRequest:
		c.s.logger.Warn("unexpected message opening a stream from the host; closing the stream", "kind", h.Kind, "type", h.Type)
		return
	}
	h.Events = 0
	hd := c.s.handlers[h.Type]
	var re *shared.RemoteError
	switch {
	case hd == nil:
		re = &shared.RemoteError{Code: shared.CodeUnknownMessage,
			Message: fmt.Sprintf("worker has no handler for stream %q (protocol version %d serves: %s)",
				h.Type, c.s.version, strings.Join(c.s.names, ", "))}
	case hd.stream == nil:
		re = &shared.RemoteError{Code: shared.CodeUnknownMessage,
			Message: fmt.Sprintf("%q is a message, not a stream: call it with host.Call", h.Type)}
	}
	var req any
	if re == nil {
		if req, err = hd.decode(c.s.codec, &h, body); err != nil {
			re = &shared.RemoteError{Code: shared.CodeBadRequest, Message: err.Error()}
		}
	}
	if re != nil {
		c.endItems(c.ctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError, Payload: re})
		return
	}

	// Registered among the running calls, so that the connection's end, a
	// stopping worker and a cancel all reach it, and it is named if it
	// ignores them.
	sctx, cancel := context.WithCancelCause(c.reqParent)
	c.mu.Lock()
	if c.ctx.Err() != nil || c.drained != nil {
		cancel(context.Canceled)
	}
	if _, dup := c.running[h.ID]; dup {
		c.mu.Unlock()
		cancel(nil)
		c.s.logger.Error("host reused a transaction id in flight", "txid", h.ID, "type", h.Type)
		c.endItems(c.ctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError, Payload: &shared.RemoteError{Code: shared.CodeDuplicateTxID,
			Message: fmt.Sprintf("transaction id %q is already in flight", h.ID)}})
		return
	}
	c.running[h.ID] = runningCall{cancel: func() { cancel(context.Canceled) }, deadline: h.Deadline, typ: h.Type}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.running, h.ID)
		if c.drained != nil && len(c.running) == 0 && !c.drainDone {
			c.drainDone = true
			close(c.drained)
		}
		c.mu.Unlock()
		cancel(nil)
	}()

	// After the request the host sends only acknowledgements of what it
	// read, which open the stream's window; the end of its side is the
	// cancellation. Closing ours then wakes a write waiting for the host.
	c.streams.Add(1)
	go func() {
		defer c.streams.Done()
		for {
			n, err := wire.ReadAck(br)
			if err == nil {
				err = iw.Ack(n)
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, yamux.ErrConnectionReset) && c.ctx.Err() == nil && sctx.Err() == nil {
					c.s.logger.Warn("bad acknowledgement on a stream from the host; closing the stream", "type", h.Type, "txid", h.ID, "error", err)
				}
				break
			}
		}
		cancel(errStreamCancelled)
		st.Close()
	}()

	c.runItems(sctx, iw, hd, h, req)
}

// runItems runs a stream handler with its middleware and sends the
// stream's end. sctx ends when the host cancels the stream or goes away.
func (c *hostConn) runItems(sctx context.Context, iw *wire.ItemWriter, hd *Handler, h wire.Header, req any) {
	ctx := sctx
	if h.Deadline != 0 {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, time.Unix(0, h.Deadline))
		defer cancelDeadline()
	}
	cc := &callCtx{Context: ctx, callInfo: callInfo{conn: c, txID: h.ID, msgType: h.Type, headers: h.Headers}}
	ci := &cc.callInfo
	ctx = cc
	base := ctx
	if len(h.Headers) > 0 {
		ctx = shared.WithHeaders(base, h.Headers)
	}
	msg := shared.AnyMessage{Kind: shared.KindRequest, Type: h.Type, TxID: h.ID, Headers: h.Headers, Payload: req}
	if c.s.mw != nil {
		if err := c.s.mw(ctx, shared.Incoming, &msg); err != nil {
			c.endItems(sctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError,
				Payload: &shared.RemoteError{Code: shared.CodeMiddleware, Message: err.Error()}})
			return
		}
		ci.headers = msg.Headers
		ctx = base
		if len(msg.Headers) > 0 {
			ctx = shared.WithHeaders(base, msg.Headers)
		}
	}

	var (
		mu    sync.Mutex
		ended bool
		buf   []byte
	)
	send := func(item any) error {
		mu.Lock()
		defer mu.Unlock()
		if ended {
			return ErrStreamEnded
		}
		if ctx.Err() != nil {
			return fmt.Errorf("send item of stream %q: %w", h.Type, context.Cause(ctx))
		}
		ih := wire.Header{Version: c.s.version, Kind: shared.KindItem, Type: h.Type, ID: h.ID}
		out, raw, err := c.s.codec.Encode(buf[:0], &ih, item)
		if err != nil {
			return fmt.Errorf("send item of stream %q: %w", h.Type, err)
		}
		buf = out
		if err := iw.Write(ctx, out, raw); err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return fmt.Errorf("send item of stream %q: %w", h.Type, err)
		}
		return nil
	}
	err := c.runStream(ctx, hd, msg.Payload, send)
	mu.Lock()
	ended = true
	mu.Unlock()
	end := shared.AnyMessage{Kind: shared.KindResult, Type: h.Type, TxID: h.ID}
	if err != nil {
		re := c.handlerError(ctx, h.Type, err)
		if re.Code == shared.CodeHandler && errors.Is(err, shared.ErrFrameTooLarge) {
			re.Code = shared.CodeFrameTooLarge // an item over the worker's limits: the host matches ErrFrameTooLarge
		}
		end.Kind, end.Payload = shared.KindError, re
	}
	// The events the handler queued before it returned: the host delivers
	// them before its range ends.
	h.Events = int(ci.events.Load())
	if c.s.mw != nil {
		if err := c.s.mw(ctx, shared.Outgoing, &end); err != nil {
			end = shared.AnyMessage{Kind: shared.KindError, Payload: &shared.RemoteError{Code: shared.CodeMiddleware, Message: err.Error()}}
		} else if end.Kind == shared.KindError {
			if _, ok := end.Payload.(*shared.RemoteError); !ok {
				err, _ := end.Payload.(error)
				if err == nil {
					err = fmt.Errorf("outgoing middleware left a %T as the error reply", end.Payload)
				}
				end.Payload = remoteError(err)
			}
		}
	}
	c.endItems(sctx, iw, &h, &end)
}

// runStream runs a stream handler, turning a panic into an error.
func (c *hostConn) runStream(ctx context.Context, hd *Handler, req any, send func(any) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.s.logger.Error("stream handler panicked", "message", hd.name, "panic", r, "stack", string(debug.Stack()))
			err = &shared.RemoteError{Code: shared.CodePanic, Message: fmt.Sprintf("stream handler %q panicked: %v", hd.name, r)}
		}
	}()
	return hd.stream.run(ctx, req, send)
}

// endItems writes a stream's end (a result without payload, or an error
// with h's event count) and waits until it and every item before it are
// written, or ctx ends (the host went away or cancelled).
func (c *hostConn) endItems(ctx context.Context, iw *wire.ItemWriter, h *wire.Header, end *shared.AnyMessage) {
	eh := &wire.Header{Version: c.s.version, Kind: end.Kind, Type: h.Type, ID: h.ID, Headers: end.Headers, Events: h.Events}
	payload := end.Payload
	if end.Kind == shared.KindResult {
		payload = nil // a stream's result carries nothing but its end
	}
	out, raw, err := c.s.codec.Encode(nil, eh, payload)
	if err != nil {
		c.s.logger.Error("cannot encode the end of a stream", "type", h.Type, "txid", h.ID, "error", err)
		eh = &wire.Header{Version: c.s.version, Kind: shared.KindError, Type: h.Type, ID: h.ID, Events: h.Events}
		out, raw, err = c.s.codec.Encode(nil, eh, &shared.RemoteError{Code: encodeErrorCode(err),
			Message: "the worker could not encode the end of its stream; the worker's log has the cause"})
		if err != nil {
			return // the stream closes without an end: the host reports that
		}
	}
	if err := iw.Close(ctx, out, raw); err != nil && ctx.Err() == nil {
		c.s.logger.Debug("end of stream not delivered", "type", h.Type, "txid", h.ID, "error", err)
	}
}
