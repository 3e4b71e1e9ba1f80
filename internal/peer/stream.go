package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Serving streams of items (handshake/PROTOCOL.md §10a): the peer that
// opens the items stream sends one request; this side runs the stream
// handler and writes its items, then the end.

// errStreamCancelled is the cause of a stream handler's context when the
// caller closed the stream before its end: it stopped ranging (break) or
// its context ended. Only a host opens streams (Caller.Stream on a host's
// Conn), so the caller is the host.
var errStreamCancelled = errors.New("stream cancelled by the host")

// ErrStreamEnded: a stream handler's send was called after the handler
// returned.
var ErrStreamEnded = errors.New("stream already ended: send only while the stream handler runs")

// streamHandler serves a stream (HandleStream).
type streamHandler struct {
	run func(ctx context.Context, req any, send func(item any) error) error
}

// HandleStream binds fn to the stream s. The compiler checks that fn takes
// s's request type and sends s's item type. See plugin.HandleStream for
// the contract.
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

// serveItems serves one items stream the peer opened for a streaming call:
// it reads the request, runs the stream handler with its items going back
// on st, and ends with a result or an error. The peer closing st cancels
// the handler. It runs on a goroutine of the Conn (serveStream).
func (c *Conn) serveItems(st *yamux.Stream, br *bufio.Reader) {
	iw := wire.NewItemWriter(st, wire.MaxQueuedItems, wire.StreamWindow)
	c.Go(iw.Run)
	defer func() {
		// Ends a write that waits for a peer that stopped reading, and
		// with it the writer.
		st.Close()
		iw.Abort(ErrStreamEnded)
		<-iw.Done()
	}()

	r := frame.NewReader(br, c.cfg.Codec.Terminator(), c.cfg.Codec.MaxFrame())
	r.SetStallTimeout(c.cfg.StallTimeout, st.SetReadDeadline)
	h, body, err := c.cfg.Codec.Read(r)
	var tl *shared.FrameTooLargeError
	switch {
	case errors.As(err, &tl) && h.ID != "" && h.Kind == shared.KindRequest:
		c.cfg.Logger.Warn("refused a stream request that is too large", "type", h.Type, "txid", h.ID, "error", tl)
		c.endItems(c.ctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError, Payload: &shared.RemoteError{Code: shared.CodeFrameTooLarge, Message: tl.Error()}})
		return
	case err != nil:
		if !errors.Is(err, io.EOF) && c.ctx.Err() == nil {
			c.cfg.Logger.Warn("bad request on a stream from the "+c.cfg.Peer+"; closing the stream", "error", err)
		}
		return
	case h.Kind != shared.KindRequest:
		c.cfg.Logger.Warn("unexpected message opening a stream from the "+c.cfg.Peer+"; closing the stream", "kind", h.Kind, "type", h.Type)
		return
	}
	h.Events = 0
	hd := c.cfg.Handlers.lookup(h.Type)
	var re *shared.RemoteError
	switch {
	case hd == nil:
		re = &shared.RemoteError{Code: shared.CodeUnknownMessage, Message: c.unknownMessage(h.Type)}
	case hd.stream == nil:
		re = &shared.RemoteError{Code: shared.CodeUnknownMessage,
			Message: fmt.Sprintf("%q is a message, not a stream: call it with host.Call", h.Type)}
	}
	var req any
	if re == nil {
		if req, err = hd.decode(c.cfg.Codec, &h, body); err != nil {
			re = &shared.RemoteError{Code: shared.CodeBadRequest, Message: err.Error()}
		}
	}
	if re != nil {
		c.endItems(c.ctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError, Payload: re})
		return
	}

	// Registered among the running calls, so that the connection's end, a
	// stopping side and a cancel all reach it, and it is named if it
	// ignores them.
	sctx, cancel := context.WithCancelCause(c.reqParent)
	if re := c.register(&h, func() { cancel(context.Canceled) }); re != nil {
		c.endItems(c.ctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError, Payload: re})
		return
	}
	defer func() {
		c.unregister(h.ID)
		cancel(nil)
	}()

	// After the request the peer sends only acknowledgements of what it
	// read, which open the stream's window; the end of its side is the
	// cancellation. Closing ours then wakes a write waiting for the peer.
	c.Go(func() {
		for {
			n, err := wire.ReadAck(br)
			if err == nil {
				err = iw.Ack(n)
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, yamux.ErrConnectionReset) && c.ctx.Err() == nil && sctx.Err() == nil {
					c.cfg.Logger.Warn("bad acknowledgement on a stream from the "+c.cfg.Peer+"; closing the stream", "type", h.Type, "txid", h.ID, "error", err)
				}
				break
			}
		}
		cancel(errStreamCancelled)
		st.Close()
	})

	c.runItems(sctx, iw, hd, h, req)
}

// runItems runs a stream handler with its middleware and sends the
// stream's end. sctx ends when the peer cancels the stream or goes away.
func (c *Conn) runItems(sctx context.Context, iw *wire.ItemWriter, hd *Handler, h wire.Header, req any) {
	ctx := sctx
	if h.Deadline != 0 {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, time.Unix(0, h.Deadline))
		defer cancelDeadline()
	}
	ctx, ci, req, err := c.incoming(ctx, &h, req)
	if err != nil {
		c.endItems(sctx, iw, &h, &shared.AnyMessage{Kind: shared.KindError,
			Payload: &shared.RemoteError{Code: shared.CodeMiddleware, Message: err.Error()}})
		return
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
		ih := wire.Header{Version: c.cfg.Version, Kind: shared.KindItem, Type: h.Type, ID: h.ID}
		out, raw, err := c.cfg.SendCodec.Encode(buf[:0], &ih, item)
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
	err = c.runStream(ctx, hd, req, send)
	mu.Lock()
	ended = true
	mu.Unlock()
	end := shared.AnyMessage{Kind: shared.KindResult, Type: h.Type, TxID: h.ID}
	if err != nil {
		re := c.handlerError(ctx, h.Type, err)
		if re.Code == shared.CodeHandler && errors.Is(err, shared.ErrFrameTooLarge) {
			re.Code = shared.CodeFrameTooLarge // an item over the limits: the caller matches ErrFrameTooLarge
		}
		end.Kind, end.Payload = shared.KindError, re
	}
	// The events the handler queued before it returned: the caller
	// delivers them before its range ends.
	h.Events = int(ci.Events.Load())
	if re := c.outgoing(ctx, &end); re != nil {
		end = shared.AnyMessage{Kind: shared.KindError, Payload: re}
	}
	c.endItems(sctx, iw, &h, &end)
}

// runStream runs a stream handler, turning a panic into an error.
func (c *Conn) runStream(ctx context.Context, hd *Handler, req any, send func(any) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.cfg.Logger.Error("stream handler panicked", "message", hd.name, "panic", r, "stack", string(debug.Stack()))
			err = &shared.RemoteError{Code: shared.CodePanic, Message: fmt.Sprintf("stream handler %q panicked: %v", hd.name, r)}
		}
	}()
	return hd.stream.run(ctx, req, send)
}

// endItems writes a stream's end (a result without payload, or an error
// with h's event count) and waits until it and every item before it are
// written, or ctx ends (the peer went away or cancelled).
func (c *Conn) endItems(ctx context.Context, iw *wire.ItemWriter, h *wire.Header, end *shared.AnyMessage) {
	eh := &wire.Header{Version: c.cfg.Version, Kind: end.Kind, Type: h.Type, ID: h.ID, Headers: end.Headers, Events: h.Events}
	payload := end.Payload
	if end.Kind == shared.KindResult {
		payload = nil // a stream's result carries nothing but its end
	}
	out, raw, err := c.cfg.SendCodec.Encode(nil, eh, payload)
	if err != nil {
		c.cfg.Logger.Error("cannot encode the end of a stream", "type", h.Type, "txid", h.ID, "error", err)
		eh = &wire.Header{Version: c.cfg.Version, Kind: shared.KindError, Type: h.Type, ID: h.ID, Events: h.Events}
		out, raw, err = c.cfg.SendCodec.Encode(nil, eh, &shared.RemoteError{Code: encodeErrorCode(err),
			Message: "the " + c.cfg.Role.String() + " could not encode the end of its stream; its log has the cause"})
		if err != nil {
			return // the stream closes without an end: the caller reports that
		}
	}
	if err := iw.Close(ctx, out, raw); err != nil && ctx.Err() == nil {
		c.cfg.Logger.Debug("end of stream not delivered", "type", h.Type, "txid", h.ID, "error", err)
	}
}
