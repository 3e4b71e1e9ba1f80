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
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// prepare decodes one request and registers it as running. It runs on the
// reading goroutine: body is valid only until the next read, so the request
// is decoded here. A request that cannot run gets its error reply here and
// ok is false.
func (c *hostConn) prepare(h *wire.Header, body []byte) (t task, ok bool) {
	h.Events = 0 // a request carries no event count; replies built from h must not either
	hd := c.s.handlers[h.Type]
	if hd == nil {
		c.replyError(h, &shared.RemoteError{Code: shared.CodeUnknownMessage,
			Message: fmt.Sprintf("worker has no handler for message %q (protocol version %d serves: %s)",
				h.Type, c.s.version, strings.Join(c.s.names, ", "))})
		return task{}, false
	}
	req, err := hd.decode(c.s.codec, h, body)
	if err != nil {
		c.replyError(h, &shared.RemoteError{Code: shared.CodeBadRequest, Message: err.Error()})
		return task{}, false
	}
	// The request's context does not hang off the connection's: registering
	// a child with a shared parent serializes concurrent requests on one
	// mutex. serve cancels everything in running when the connection ends.
	ctx, cancel := context.WithCancel(c.reqParent)
	c.mu.Lock()
	if c.ctx.Err() != nil || c.drained != nil {
		// The connection ended and serve has swept running already, or the
		// worker is stopping: the handler starts cancelled.
		cancel()
	}
	if _, dup := c.running[h.ID]; dup {
		c.mu.Unlock()
		cancel()
		c.s.logger.Error("host reused a transaction id in flight", "txid", h.ID, "type", h.Type)
		c.replyError(h, &shared.RemoteError{Code: shared.CodeDuplicateTxID,
			Message: fmt.Sprintf("transaction id %q is already in flight", h.ID)})
		return task{}, false
	}
	c.running[h.ID] = runningCall{cancel: cancel, deadline: h.Deadline, typ: h.Type}
	c.mu.Unlock()
	return task{ctx: ctx, cancel: cancel, hd: hd, h: *h, req: req}, true
}

// runningCall is a request whose handler runs.
type runningCall struct {
	cancel   context.CancelFunc
	deadline int64 // the request's deadline (Unix ns), 0 for none
	typ      string
}

// expiresBy reports whether a cancel saying that deadline dl passed should
// be left to the call's own deadline timer: the host cancels when its
// deadline passes, and the handler's context, which has the same deadline,
// then expires by itself with context.DeadlineExceeded instead of turning
// into context.Canceled. Only a clock that jumped makes the host's cancel
// come well before the worker's timer; then it cancels.
func (rc runningCall) expiresBy(dl int64) bool {
	return dl != 0 && rc.deadline == dl && time.Until(time.Unix(0, dl)) < deadlineSlack
}

// task is one request for a handler.
type task struct {
	ctx    context.Context
	cancel context.CancelFunc
	hd     *Handler
	h      wire.Header
	req    any
}

// maxIdleHandlers bounds the handler goroutines kept waiting for work.
const maxIdleHandlers = 64

// readCalls reads requests and cancels from the calls or bulk stream, as a
// leader/follower pool: one goroutine reads at a time; when it reads a
// request it hands the reader to an idle goroutine (or a new one) and runs
// the handler itself. The request goes from the socket to its handler
// without waking another goroutine, and the hand-off of the reader happens
// while the handler runs. Goroutines are reused, keeping their grown stacks
// (a fresh goroutine per request spent 13% of the worker's CPU growing its
// stack).
func (c *hostConn) readCalls(r *frame.Reader) {
	for r != nil {
		h, body, err := c.s.codec.Read(r)
		var tl *shared.FrameTooLargeError
		if errors.As(err, &tl) {
			c.refuseTooLarge(&h, tl)
			continue // the reader skipped it and is in step
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, yamux.ErrStreamClosed) && c.ctx.Err() == nil {
				c.s.logger.Error("bad message from host; closing the connection", "error", err)
				c.close()
			}
			return
		}
		switch h.Kind {
		case shared.KindRequest:
			t, ok := c.prepare(&h, body)
			if !ok {
				continue
			}
			c.promote(r)
			c.handle(t.ctx, t.cancel, t.hd, t.h, t.req)
			r = c.follow()
		case shared.KindCancel:
			c.mu.Lock()
			rc, ok := c.running[h.ID]
			c.mu.Unlock()
			if ok && !rc.expiresBy(h.Deadline) {
				rc.cancel()
			}
		default:
			c.s.logger.Warn("unexpected message from host", "kind", h.Kind, "type", h.Type)
		}
	}
}

// frameReader returns the reader of a calls or bulk stream.
func (c *hostConn) frameReader(st *yamux.Stream, br *bufio.Reader) *frame.Reader {
	r := frame.NewReader(br, c.s.codec.Terminator(), c.s.codec.MaxFrame())
	r.SetStallTimeout(wire.RawStallTimeout, st.SetReadDeadline)
	return r
}

// refuseTooLarge answers a request the reader skipped as too large with an
// error naming both sizes. A message whose header was too large cannot be
// answered: it is logged.
func (c *hostConn) refuseTooLarge(h *wire.Header, tl *shared.FrameTooLargeError) {
	if h.ID == "" || h.Kind != shared.KindRequest {
		c.s.logger.Warn("skipped a message from the host that is too large", "kind", h.Kind, "type", h.Type, "error", tl)
		return
	}
	c.s.logger.Warn("refused a request that is too large", "type", h.Type, "txid", h.ID, "error", tl)
	c.replyError(h, &shared.RemoteError{Code: shared.CodeFrameTooLarge, Message: tl.Error()})
}

// encodeErrorCode is the code of the error reply for a reply that could
// not be encoded: CodeFrameTooLarge when it was over the worker's limits
// (the error names them), else CodeEncode.
func encodeErrorCode(err error) string {
	if errors.Is(err, shared.ErrFrameTooLarge) {
		return shared.CodeFrameTooLarge
	}
	return shared.CodeEncode
}

// promote hands r to an idle goroutine, or to a new one.
func (c *hostConn) promote(r *frame.Reader) {
	select {
	case c.turn <- r:
		return
	default:
	}
	c.handlers.Add(1)
	go func() {
		defer c.handlers.Done()
		c.readCalls(r)
	}()
}

// follow waits until this goroutine is handed a reader. It returns nil when
// the connection ends or enough goroutines are idle already.
func (c *hostConn) follow() *frame.Reader {
	if c.idleCount.Add(1) > maxIdleHandlers {
		c.idleCount.Add(-1)
		return nil
	}
	defer c.idleCount.Add(-1)
	select {
	case r := <-c.turn:
		return r
	case <-c.ctx.Done():
		return nil
	}
}

// handle runs one handler and sends its reply.
func (c *hostConn) handle(ctx context.Context, cancel context.CancelFunc, hd *Handler, h wire.Header, req any) {
	defer func() {
		c.mu.Lock()
		delete(c.running, h.ID)
		if c.drained != nil && len(c.running) == 0 && !c.drainDone {
			c.drainDone = true
			close(c.drained)
		}
		c.mu.Unlock()
		cancel()
	}()
	if h.Deadline != 0 {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, time.Unix(0, h.Deadline))
		defer cancelDeadline()
	}
	cc := &callCtx{Context: ctx, callInfo: callInfo{conn: c, txID: h.ID, msgType: h.Type, headers: h.Headers}}
	ci := &cc.callInfo
	ctx = cc
	base := ctx // without headers
	if len(h.Headers) > 0 {
		ctx = shared.WithHeaders(base, h.Headers)
	}

	msg := shared.AnyMessage{Kind: shared.KindRequest, Type: h.Type, TxID: h.ID, Headers: h.Headers, Payload: req}
	if c.s.mw != nil {
		if err := c.s.mw(ctx, shared.Incoming, &msg); err != nil {
			c.reply(ctx, &h, &shared.AnyMessage{Kind: shared.KindError, Type: h.Type, TxID: h.ID,
				Payload: &shared.RemoteError{Code: shared.CodeMiddleware, Message: err.Error()}})
			return
		}
		// The handler and its status events see the headers as the
		// middleware left them, deletions included.
		ci.headers = msg.Headers
		ctx = base
		if len(msg.Headers) > 0 {
			ctx = shared.WithHeaders(base, msg.Headers)
		}
	}
	res, err := c.call(ctx, hd, msg.Payload)
	out := shared.AnyMessage{Kind: shared.KindResult, Type: h.Type, TxID: h.ID, Payload: res}
	if err != nil {
		out.Kind, out.Payload = shared.KindError, c.handlerError(ctx, h.Type, err)
	}
	// The events the handler queued before it returned: the host waits for
	// them before its Call returns. An event emitted later (by a goroutine
	// the handler left running) still carries the id but is not waited for.
	h.Events = int(ci.events.Load())
	c.reply(ctx, &h, &out)
}

// handlerError turns a handler's error into the error reply.
func (c *hostConn) handlerError(ctx context.Context, typ string, err error) *shared.RemoteError {
	switch {
	case ctx.Err() == nil || !errors.Is(err, ctx.Err()):
		return remoteError(err)
	case errors.Is(err, context.DeadlineExceeded):
		return &shared.RemoteError{Code: shared.CodeDeadline, Class: "transient",
			Message: fmt.Sprintf("call %q: context deadline exceeded in the worker", typ)}
	default:
		return &shared.RemoteError{Code: shared.CodeCanceled, Message: fmt.Sprintf("call %q cancelled by the host", typ)}
	}
}

// reply runs the outgoing middleware on a result or error reply and sends
// it. A middleware error replaces the reply with an error naming it.
func (c *hostConn) reply(ctx context.Context, h *wire.Header, out *shared.AnyMessage) {
	if c.s.mw != nil {
		if err := c.s.mw(ctx, shared.Outgoing, out); err != nil {
			c.replyError(h, &shared.RemoteError{Code: shared.CodeMiddleware, Message: err.Error()})
			return
		}
		if out.Kind == shared.KindError {
			if _, ok := out.Payload.(*shared.RemoteError); !ok {
				err, _ := out.Payload.(error)
				if err == nil {
					err = fmt.Errorf("outgoing middleware left a %T as the error reply", out.Payload)
				}
				out.Payload = remoteError(err)
			}
		}
	}
	c.send(&wire.Header{Version: c.s.version, Kind: out.Kind, Type: h.Type, ID: h.ID, Headers: out.Headers, Events: h.Events}, out.Payload)
}

// call runs the handler, turning a panic into an error.
func (c *hostConn) call(ctx context.Context, hd *Handler, req any) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.s.logger.Error("handler panicked", "message", hd.name, "panic", r, "stack", string(debug.Stack()))
			err = &shared.RemoteError{Code: shared.CodePanic, Message: fmt.Sprintf("handler %q panicked: %v", hd.name, r)}
		}
	}()
	return hd.call(ctx, req)
}

// replyError sends an error reply, with h's event count.
func (c *hostConn) replyError(h *wire.Header, re *shared.RemoteError) {
	c.send(&wire.Header{Version: c.s.version, Kind: shared.KindError, Type: h.Type, ID: h.ID, Events: h.Events}, re)
}

// send encodes and writes one reply: on the calls stream, or on the bulk
// stream for a large raw payload.
func (c *hostConn) send(h *wire.Header, payload any) {
	bp := bufPool.Get().(*[]byte)
	defer func() { *bp = (*bp)[:0]; bufPool.Put(bp) }()
	out, raw, err := c.s.codec.Encode((*bp)[:0], h, payload)
	if err != nil {
		c.s.logger.Error("cannot encode reply", "type", h.Type, "txid", h.ID, "error", err)
		if h.Kind == shared.KindError {
			c.sendLastResort(h)
			return
		}
		c.replyError(h, &shared.RemoteError{Code: encodeErrorCode(err), Message: err.Error()})
		return
	}
	*bp = out
	ready, w := c.callsReady, &c.calls
	if len(raw) >= wire.LargeThreshold {
		ready, w = c.bulkReady, &c.bulk
	}
	select {
	case <-ready: // checked first: a stream that is ready takes the reply even while the connection ends
	default:
		select {
		case <-ready:
		case <-c.ctx.Done():
			return
		}
	}
	err = (*w).Write(out, raw)
	if err != nil && c.ctx.Err() == nil {
		c.s.logger.Debug("reply not delivered", "type", h.Type, "txid", h.ID, "error", err)
	}
}

// sendLastResort answers a call whose error reply could not be encoded, so
// the host never waits for a reply that will not come. The reply is built
// without the middleware's headers or any text from the failed reply: a
// fixed message that any serializer can encode. If even that fails, the
// serializer is broken and the connection is closed, which fails the
// host's calls instead of leaving them waiting.
func (c *hostConn) sendLastResort(h *wire.Header) {
	re := &shared.RemoteError{Code: shared.CodeEncode,
		Message: "the worker could not encode its error reply; the worker's log has the cause"}
	lh := &wire.Header{Version: c.s.version, Kind: shared.KindError, Type: h.Type, ID: h.ID}
	out, _, err := c.s.codec.Encode(nil, lh, re)
	if err != nil {
		c.s.logger.Error("cannot encode even a plain error reply; closing the connection",
			"type", h.Type, "txid", h.ID, "error", err)
		c.close()
		return
	}
	select {
	case <-c.callsReady:
	case <-c.ctx.Done():
		return
	}
	if err := c.calls.Write(out); err != nil && c.ctx.Err() == nil {
		c.s.logger.Debug("reply not delivered", "type", h.Type, "txid", h.ID, "error", err)
	}
}

// drain cancels the running handlers and waits until they have returned
// and sent their replies, or until expired fires; it reports whether they
// all did. Requests that arrive meanwhile start cancelled. The connection
// stays open, so replies still reach the host and, when handlers ignore
// their context, the host sees the connection end only when the worker
// exits (and so gets its exit status).
func (c *hostConn) drain(expired <-chan time.Time) bool {
	c.mu.Lock()
	if c.drained == nil {
		c.drained = make(chan struct{})
		if len(c.running) == 0 {
			c.drainDone = true
			close(c.drained)
		}
	}
	for _, rc := range c.running {
		rc.cancel()
	}
	drained := c.drained
	c.mu.Unlock()
	select {
	case <-drained:
		return true
	case <-c.ymx.CloseChan():
		// The host is gone: nothing to reply to. The caller closes what is
		// left and waits for the handlers within the same grace.
		return true
	case <-expired:
		return false
	}
}
