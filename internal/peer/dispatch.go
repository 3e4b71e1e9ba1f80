package peer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// read reads a calls or bulk stream, as a leader/follower pool: one
// goroutine reads at a time; when it reads a request it hands the reader
// to an idle goroutine (or a new one) and runs the handler itself. The
// request goes from the socket to its handler without waking another
// goroutine, and the hand-off of the reader happens while the handler
// runs. Goroutines are reused, keeping their grown stacks (a fresh
// goroutine per request spent 13% of the worker's CPU growing its stack).
// Replies, errors and cancels are handled on the reading goroutine.
func (c *Conn) read(r *frame.Reader) {
	for r != nil {
		h, body, err := c.cfg.Codec.Read(r)
		if err != nil {
			var tl *shared.FrameTooLargeError
			switch {
			case errors.As(err, &tl) && h.ID != "":
				c.tooLarge(&h, tl)
				continue // the reader skipped it and is in step
			case errors.As(err, &tl) && c.cfg.Role == Worker:
				// No call to answer; whatever payload followed the header
				// is read as the next header (and usually ends the
				// connection as malformed).
				c.cfg.Logger.Warn("skipped a message from the "+c.cfg.Peer+" that is too large", "error", tl)
				continue
			case errors.As(err, &tl):
				// No call to fail, and whatever payload followed the header
				// would be read as the next header: the stream is lost.
				c.end(fmt.Errorf("%s: %w: %w", c.cfg.Peer, c.cfg.ErrLost, tl))
				return
			case errors.Is(err, shared.ErrBodyStalled) && h.ID != "" && isReply(h.Kind):
				c.failCall(&h, fmt.Errorf("reply from %s: %s %q: %w", c.cfg.Peer, h.Kind, h.Type, err))
			}
			c.lost(err)
			return
		}
		switch h.Kind {
		case shared.KindRequest:
			t, ok := c.prepare(&h, body)
			if !ok {
				continue
			}
			c.promote(r)
			c.handle(t)
			r = c.follow()
		case shared.KindCancel:
			c.mu.Lock()
			rc, ok := c.running[h.ID]
			c.mu.Unlock()
			if ok && !rc.expiresBy(h.Deadline) {
				rc.cancel()
			}
		case shared.KindResult, shared.KindError:
			if cl := c.take(&h); cl != nil {
				rp := cl.decode(&h, body) // here, while body is valid
				rp.events = h.Events
				cl.done <- rp
			}
		default:
			c.cfg.Unexpected.Add("stream", "calls", "kind", h.Kind, "type", h.Type)
		}
	}
}

func isReply(k shared.Kind) bool { return k == shared.KindResult || k == shared.KindError }

// tooLarge handles a message the reader skipped because its payload was
// over this side's limit: a request is answered with an error naming both
// sizes, a reply fails its call.
func (c *Conn) tooLarge(h *wire.Header, tl *shared.FrameTooLargeError) {
	switch h.Kind {
	case shared.KindRequest:
		c.cfg.Logger.Warn("refused a request that is too large", "type", h.Type, "txid", h.ID, "error", tl)
		c.replyError(h, &shared.RemoteError{Code: shared.CodeFrameTooLarge, Message: tl.Error()})
	case shared.KindResult, shared.KindError:
		c.cfg.Logger.Warn("reply too large; failing its call", "peer", c.cfg.Peer, "txid", h.ID, "type", h.Type, "error", tl)
		c.failCall(h, fmt.Errorf("reply from %s: %w", c.cfg.Peer, tl))
	default:
		c.cfg.Logger.Warn("skipped a message that is too large", "peer", c.cfg.Peer, "kind", h.Kind, "type", h.Type, "error", tl)
	}
}

// runningCall is a request whose handler runs.
type runningCall struct {
	cancel   context.CancelFunc
	deadline int64 // the request's deadline (Unix ns), 0 for none
	typ      string
}

// expiresBy reports whether a cancel saying that deadline dl passed should
// be left to the call's own deadline timer: the caller cancels when its
// deadline passes, and the handler's context, which has the same deadline,
// then expires by itself with context.DeadlineExceeded instead of turning
// into context.Canceled. Only a clock that jumped makes the cancel come
// well before the handler's timer; then it cancels.
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

// prepare decodes one request and registers it as running. It runs on the
// reading goroutine: body is valid only until the next read, so the
// request is decoded here. A request that cannot run gets its error reply
// here and ok is false.
func (c *Conn) prepare(h *wire.Header, body []byte) (t task, ok bool) {
	h.Events = 0 // a request carries no event count; replies built from h must not either
	hd := c.cfg.Handlers.lookup(h.Type)
	if hd == nil {
		c.replyError(h, &shared.RemoteError{Code: shared.CodeUnknownMessage, Message: c.unknownMessage(h.Type)})
		return task{}, false
	}
	req, err := hd.decode(c.cfg.Codec, h, body)
	if err != nil {
		c.replyError(h, &shared.RemoteError{Code: shared.CodeBadRequest, Message: err.Error()})
		return task{}, false
	}
	// The request's context does not hang off the connection's: registering
	// a child with a shared parent serializes concurrent requests on one
	// mutex. end cancels everything in running.
	ctx, cancel := context.WithCancel(c.reqParent)
	if re := c.register(h, cancel); re != nil {
		c.replyError(h, re)
		return task{}, false
	}
	return task{ctx: ctx, cancel: cancel, hd: hd, h: *h, req: req}, true
}

// register records the request h as running, cancelled by cancel (end,
// Drain, the peer's cancel). A transaction id already in flight is
// refused: cancel is called and the error reply returned.
func (c *Conn) register(h *wire.Header, cancel context.CancelFunc) *shared.RemoteError {
	c.mu.Lock()
	if c.ctx.Err() != nil || c.drained != nil {
		// The connection ended and end swept running already, or the side
		// is stopping: the handler starts cancelled.
		cancel()
	}
	if _, dup := c.running[h.ID]; dup {
		c.mu.Unlock()
		cancel()
		c.cfg.Logger.Error(c.cfg.Peer+" reused a transaction id in flight", "txid", h.ID, "type", h.Type)
		return &shared.RemoteError{Code: shared.CodeDuplicateTxID,
			Message: fmt.Sprintf("transaction id %q is already in flight", h.ID)}
	}
	c.running[h.ID] = runningCall{cancel: cancel, deadline: h.Deadline, typ: h.Type}
	c.mu.Unlock()
	return nil
}

// unregister removes the request id from the running ones, ending a Drain
// that waits for the last of them.
func (c *Conn) unregister(id string) {
	c.mu.Lock()
	delete(c.running, id)
	if c.drained != nil && len(c.running) == 0 && !c.drainDone {
		c.drainDone = true
		close(c.drained)
	}
	c.mu.Unlock()
}

// unknownMessage says that this side serves no message typ, and what it
// serves.
func (c *Conn) unknownMessage(typ string) string {
	names := c.cfg.Handlers.Names()
	self := c.cfg.Role.String()
	if len(names) == 0 {
		if c.cfg.Role == Host {
			return fmt.Sprintf("host has no handler for message %q: it serves no messages (register them in host.Config.Handlers)", typ)
		}
		return fmt.Sprintf("worker has no handler for message %q: it serves no messages at protocol version %d", typ, c.cfg.Version)
	}
	return fmt.Sprintf("%s has no handler for message %q (protocol version %d serves: %s)",
		self, typ, c.cfg.Version, strings.Join(names, ", "))
}

// promote hands r to an idle goroutine, or to a new one.
func (c *Conn) promote(r *frame.Reader) {
	select {
	case c.turn <- r:
		return
	default:
	}
	c.handlers.Add(1)
	go func() {
		defer c.handlers.Done()
		c.read(r)
	}()
}

// follow waits until this goroutine is handed a reader. It returns nil when
// the connection ends or enough goroutines are idle already.
func (c *Conn) follow() *frame.Reader {
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
func (c *Conn) handle(t task) {
	ctx, h := t.ctx, t.h
	defer func() {
		c.unregister(h.ID)
		t.cancel()
	}()
	if h.Deadline != 0 {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, time.Unix(0, h.Deadline))
		defer cancelDeadline()
	}
	ctx, ci, req, err := c.incoming(ctx, &h, t.req)
	if err != nil {
		c.reply(ctx, &h, &shared.AnyMessage{Kind: shared.KindError, Type: h.Type, TxID: h.ID,
			Payload: &shared.RemoteError{Code: shared.CodeMiddleware, Message: err.Error()}})
		return
	}
	res, err := c.call(ctx, t.hd, req)
	out := shared.AnyMessage{Kind: shared.KindResult, Type: h.Type, TxID: h.ID, Payload: res}
	if err != nil {
		out.Kind, out.Payload = shared.KindError, c.handlerError(ctx, h.Type, err)
	}
	// The events the handler queued before it returned: the caller waits
	// for them. An event emitted later (by a goroutine the handler left
	// running) still carries the id but is not waited for.
	h.Events = int(ci.Events.Load())
	c.reply(ctx, &h, &out)
}

// incoming makes the context of the handler of request h (its call Info
// and headers) from ctx and runs the incoming middleware on the request.
// It returns the handler's context, its Info and the request as the
// middleware left it, or the middleware's error with a context for the
// error reply.
func (c *Conn) incoming(ctx context.Context, h *wire.Header, req any) (context.Context, *Info, any, error) {
	cc := &callCtx{Context: ctx, Info: Info{Conn: c, TxID: h.ID, Type: h.Type, Headers: h.Headers}}
	ci := &cc.Info
	base := context.Context(cc) // without headers
	ctx = base
	if len(h.Headers) > 0 {
		ctx = shared.WithHeaders(base, h.Headers)
	}
	mw := c.cfg.Middleware
	if mw == nil {
		return ctx, ci, req, nil
	}
	msg := shared.AnyMessage{Kind: shared.KindRequest, Type: h.Type, TxID: h.ID, Headers: h.Headers, Payload: req}
	if err := mw(ctx, shared.Incoming, &msg); err != nil {
		return ctx, ci, nil, err
	}
	// The handler and its events see the headers as the middleware left
	// them, deletions included.
	ci.Headers = msg.Headers
	ctx = base
	if len(msg.Headers) > 0 {
		ctx = shared.WithHeaders(base, msg.Headers)
	}
	return ctx, ci, msg.Payload, nil
}

// handlerError turns a handler's error into the error reply.
func (c *Conn) handlerError(ctx context.Context, typ string, err error) *shared.RemoteError {
	switch {
	case ctx.Err() == nil || !errors.Is(err, ctx.Err()):
		return RemoteError(err)
	case errors.Is(err, context.DeadlineExceeded):
		return &shared.RemoteError{Code: shared.CodeDeadline, Class: "transient",
			Message: fmt.Sprintf("call %q: context deadline exceeded in the %s", typ, c.cfg.Role)}
	default:
		return &shared.RemoteError{Code: shared.CodeCanceled, Message: fmt.Sprintf("call %q cancelled by the %s", typ, c.cfg.Peer)}
	}
}

// RemoteError turns a handler's error into the RemoteError the caller
// receives. A *shared.RemoteError passes through unchanged; the code of an
// error implementing faults.Coder (a FaultCode() string method, or
// faults.WithCode) replaces CodeHandler; the fault class and retry hint of
// shared/faults survive the trip.
func RemoteError(err error) *shared.RemoteError {
	var re *shared.RemoteError
	if errors.As(err, &re) {
		return re
	}
	re = &shared.RemoteError{Message: err.Error(), Code: shared.CodeHandler, Type: fmt.Sprintf("%T", err)}
	re.Class = string(faults.ClassOf(err))
	if code := faults.CodeOf(err); code != "" {
		re.Code = code
	}
	if d, ok := faults.RetryAfter(err); ok {
		re.RetryAfterMillis = d.Milliseconds()
	}
	return re
}

// reply runs the outgoing middleware on a result or error reply and sends
// it. A middleware error replaces the reply with an error naming it.
func (c *Conn) reply(ctx context.Context, h *wire.Header, out *shared.AnyMessage) {
	if re := c.outgoing(ctx, out); re != nil {
		c.replyError(h, re)
		return
	}
	c.sendReply(c.ctx, &wire.Header{Version: c.cfg.Version, Kind: out.Kind, Type: h.Type, ID: h.ID, Headers: out.Headers, Events: h.Events}, out.Payload)
}

// outgoing runs the outgoing middleware on a result or error reply (or a
// stream's end), leaving an error reply's payload a *shared.RemoteError.
// A middleware's error is returned as the error reply to send instead.
func (c *Conn) outgoing(ctx context.Context, out *shared.AnyMessage) *shared.RemoteError {
	mw := c.cfg.Middleware
	if mw == nil {
		return nil
	}
	if err := mw(ctx, shared.Outgoing, out); err != nil {
		return &shared.RemoteError{Code: shared.CodeMiddleware, Message: err.Error()}
	}
	if out.Kind == shared.KindError {
		if _, ok := out.Payload.(*shared.RemoteError); !ok {
			err, _ := out.Payload.(error)
			if err == nil {
				err = fmt.Errorf("outgoing middleware left a %T as the error reply", out.Payload)
			}
			out.Payload = RemoteError(err)
		}
	}
	return nil
}

// call runs the handler, turning a panic into an error.
func (c *Conn) call(ctx context.Context, hd *Handler, req any) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.cfg.Logger.Error("handler panicked", "message", hd.name, "panic", r, "stack", string(debug.Stack()))
			err = &shared.RemoteError{Code: shared.CodePanic, Message: fmt.Sprintf("handler %q panicked: %v", hd.name, r)}
		}
	}()
	return hd.call(ctx, req)
}

// replyError sends an error reply from a reader, with h's event count: it
// is queued at once, never waiting for room behind other messages.
func (c *Conn) replyError(h *wire.Header, re *shared.RemoteError) {
	c.sendReply(nil, &wire.Header{Version: c.cfg.Version, Kind: shared.KindError, Type: h.Type, ID: h.ID, Events: h.Events}, re)
}

// sendReply encodes and sends one reply. A reply that cannot be encoded is
// answered with an error reply saying why; an error reply that cannot be
// encoded, with a fixed one (sendLastResort).
func (c *Conn) sendReply(ctx context.Context, h *wire.Header, payload any) {
	err := c.send(ctx, h, payload)
	var encErr *encodeError
	switch {
	case err == nil:
	case errors.As(err, &encErr):
		c.cfg.Logger.Error("cannot encode reply", "type", h.Type, "txid", h.ID, "error", err)
		if h.Kind == shared.KindError {
			c.sendLastResort(h)
			return
		}
		c.replyError(h, &shared.RemoteError{Code: encodeErrorCode(err), Message: err.Error()})
	case c.ctx.Err() == nil:
		c.cfg.Logger.Debug("reply not delivered", "type", h.Type, "txid", h.ID, "error", err)
	}
}

// encodeError is send's error for a message that could not be encoded
// (as opposed to a stream that failed, or a context that ended). Its text
// and what it unwraps to are the codec's.
type encodeError struct{ err error }

func (e *encodeError) Error() string { return e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

// encodeErrorCode is the code of the error reply for a reply that could
// not be encoded: CodeFrameTooLarge when it was over the limits (the error
// names them), else CodeEncode.
func encodeErrorCode(err error) string {
	if errors.Is(err, shared.ErrFrameTooLarge) {
		return shared.CodeFrameTooLarge
	}
	return shared.CodeEncode
}

// sendLastResort answers a call whose error reply could not be encoded, so
// the caller never waits for a reply that will not come. The reply is
// built without the middleware's headers or any text from the failed
// reply: a fixed message that any serializer can encode. If even that
// fails, the serializer is broken and the connection is closed, which
// fails the caller's calls instead of leaving them waiting.
func (c *Conn) sendLastResort(h *wire.Header) {
	re := &shared.RemoteError{Code: shared.CodeEncode,
		Message: "the " + c.cfg.Role.String() + " could not encode its error reply; its log has the cause"}
	lh := &wire.Header{Version: c.cfg.Version, Kind: shared.KindError, Type: h.Type, ID: h.ID}
	if _, _, err := c.cfg.SendCodec.Encode(nil, lh, re); err != nil {
		c.cfg.Logger.Error("cannot encode even a plain error reply; closing the connection",
			"type", h.Type, "txid", h.ID, "error", err)
		c.end(c.cfg.Lost(err))
		return
	}
	if err := c.send(nil, lh, re); err != nil && c.ctx.Err() == nil {
		c.cfg.Logger.Debug("reply not delivered", "type", h.Type, "txid", h.ID, "error", err)
	}
}

// Drain cancels the running handlers and waits until they have returned
// and sent their replies, or until expired fires; it reports whether they
// all did. Requests that arrive meanwhile start cancelled. The connection
// stays open, so replies still reach the peer.
func (c *Conn) Drain(expired <-chan time.Time) bool {
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
		// The peer is gone: nothing to reply to. The caller closes what is
		// left and waits for the handlers within the same grace.
		return true
	case <-expired:
		return false
	}
}

// Running is one running handler.
type Running struct {
	Type string // the request's message type
	TxID string // the request's transaction id
}

// Running lists the running handlers, by txid.
func (c *Conn) Running() []Running {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Running, 0, len(c.running))
	for id, rc := range c.running {
		out = append(out, Running{Type: rc.typ, TxID: id})
	}
	slices.SortFunc(out, func(a, b Running) int { return strings.Compare(a.TxID, b.TxID) })
	return out
}

// Info is what a handler's context carries about its call.
type Info struct {
	Conn    *Conn
	TxID    string
	Type    string
	Headers map[string]string
	Events  atomic.Int64 // events the handler queued; the reply carries the count
}

type infoKey struct{}

// callCtx is a handler's context: the call's information travels in the
// same allocation as the context that carries it.
type callCtx struct {
	context.Context
	Info
}

func (c *callCtx) Value(key any) any {
	if key == (infoKey{}) {
		return &c.Info
	}
	return c.Context.Value(key)
}

// CallInfo returns the call a handler's context belongs to, or nil.
func CallInfo(ctx context.Context) *Info {
	ci, _ := ctx.Value(infoKey{}).(*Info)
	return ci
}
