package host

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// call is one request waiting for its reply and, when the reply says the
// handler emitted events, for those events.
type call struct {
	done   chan reply
	result any // pointer to the typed result, decoded into by the reader
	codec  *wire.Codec

	// Guarded by conn.mu. A call stays in conn.pending until its events
	// were delivered: the events reader counts them there.
	events  int           // events of this call delivered to OnEvent and Status
	want    int           // the reply's event count, once replied
	replied bool          // the reply came; the call waits for its events
	evCh    chan struct{} // signalled when events reaches want, or the connection fails
}

type reply struct {
	headers map[string]string
	err     error // a *shared.RemoteError for an error reply
	events  int   // how many events the handler emitted
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan reply, 1), evCh: make(chan struct{}, 1)} }}

// getCall returns a call from the pool, reset.
func getCall() *call {
	cl := callPool.Get().(*call)
	cl.events, cl.want, cl.replied = 0, 0, false
	select {
	case <-cl.evCh:
	default:
	}
	return cl
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// decode runs on the reader goroutine, while body is valid.
func (cl *call) decode(h *wire.Header, body []byte) reply {
	if h.Kind == shared.KindError {
		re := new(shared.RemoteError)
		if err := cl.codec.DecodeBody(h, body, re); err != nil {
			return reply{err: fmt.Errorf("decode error reply: %w", err)}
		}
		return reply{headers: h.Headers, err: re}
	}
	if err := cl.codec.DecodeBody(h, body, cl.result); err != nil {
		return reply{err: err}
	}
	return reply{headers: h.Headers}
}

// Call sends req to the worker as message m and waits for its result. t
// is a *Worker or a *Pool: on a pool the call runs on its least-loaded
// ready worker, as described at Pool, and a crash may be retried
// (shared.Message.WithCrashRetry).
//
// The call's deadline is the earliest of ctx's deadline, m's own timeout
// (shared.Message.WithTimeout) or else Config.CallTimeout. When ctx is
// cancelled or the deadline passes, the worker is told, its handler's
// context is cancelled, and Call returns an error wrapping ctx.Err().
//
// An error the handler returned arrives as a *shared.RemoteError (match it
// with errors.As). If the worker crashes, pending calls fail at once with an
// *ExitError; if the connection breaks, with ErrConnectionLost.
//
// Events the handler emitted before it returned (plugin.Emit, status
// events) have been delivered to Config.OnEvent and Config.Status when Call
// returns: the reply says how many there were, and Call waits for them. If
// ctx ends or the connection fails while it waits, Call returns an error
// matching ErrEventsPending and the cause; the events that arrive later are
// still delivered.
//
// # Middleware
//
// Incoming middleware sees every call's end exactly once: each middleware
// that saw a call's request (Outgoing) sees its end (Incoming), on the
// goroutine of the call, before Call returns. A result has Kind
// shared.KindResult and the decoded result as Payload. An error has Kind
// shared.KindError and as Payload a *shared.RemoteError for the worker's
// error reply, or else the local error the call failed with (a passed
// deadline or a cancellation, ErrConnectionLost, an *ExitError,
// ErrEventsPending, shared.ErrFrameTooLarge, an outgoing
// *shared.MiddlewareError, ...); Headers are the reply's, nil for a local
// error. When an outgoing middleware fails the request, the middleware
// before it and the failing one see the error; those after it saw nothing
// and see nothing. A call whose context had ended before it started runs no
// middleware.
//
// An incoming middleware may replace a result (with a value of the same
// type) or fail it: Call then returns the middleware's error. It cannot
// hide a failed call's error: changes to an error's Payload are ignored,
// and a middleware's error is added to the call's error, so that errors.Is
// and errors.As find both the call's own error and the
// *shared.MiddlewareError.
func Call[Req, Res any](ctx context.Context, t Target, m shared.Message[Req, Res], req Req) (Res, error) {
	if p, ok := t.(*Pool); ok {
		return poolCall(ctx, p, m, req)
	}
	w := t.(*Worker)
	var res Res
	timeout, ok := m.Timeout()
	if !ok {
		timeout = w.cfg.CallTimeout
	}
	var ran shared.Middleware // the middleware that saw the request
	txID, headers, err := w.roundTrip(ctx, m.Name(), timeout, req, &res, &ran)
	if ran != nil {
		msg := shared.AnyMessage{Kind: shared.KindResult, Type: m.Name(), TxID: txID, Headers: headers, Payload: res}
		if err != nil {
			// The worker's *shared.RemoteError, or the local error.
			msg.Kind, msg.Payload = shared.KindError, err
		}
		mwErr := ran(ctx, shared.Incoming, &msg)
		switch {
		case mwErr != nil && err == nil:
			var zero Res
			return zero, fmt.Errorf("call %q on worker %q: %w", m.Name(), w.cfg.Name, mwErr)
		case mwErr != nil:
			err = fmt.Errorf("%w; %w", err, mwErr)
		case err == nil:
			res, _ = msg.Payload.(Res)
		}
	}
	if err != nil {
		var zero Res
		return zero, fmt.Errorf("call %q on worker %q: %w", m.Name(), w.cfg.Name, err)
	}
	return res, nil
}

// ranBefore returns the middleware that saw a request whose outgoing chain
// failed with err: the chain up to and including the middleware that
// failed. It is built only when a request is refused.
func (w *Worker) ranBefore(err error) shared.Middleware {
	var me *shared.MiddlewareError
	if errors.As(err, &me) && me.Direction == shared.Outgoing && me.Index >= 0 && me.Index+1 < len(w.cfg.Middleware) {
		return shared.Chain(w.cfg.Middleware[:me.Index+1])
	}
	return w.mw
}

// roundTrip sends one request and waits for its reply, decoding a result
// into result. It sets *ran to the middleware that saw the request go out,
// which must see the call's end: the chain, or the part of it up to the
// middleware that failed the request; nil when none ran.
func (w *Worker) roundTrip(ctx context.Context, typ string, timeout time.Duration, req, result any, ran *shared.Middleware) (string, map[string]string, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	msg := shared.AnyMessage{Kind: shared.KindRequest, Type: typ, Headers: shared.HeadersFrom(ctx), Payload: req}
	msg.TxID = w.cfg.TxIDGenerator(&msg)
	if w.mw != nil {
		// Middleware may edit the headers: give it a map of its own, never
		// the caller's (which ctx may share with other calls).
		hd := make(map[string]string, len(msg.Headers)+1)
		maps.Copy(hd, msg.Headers)
		msg.Headers = hd
		*ran = w.mw
		if err := w.mw(ctx, shared.Outgoing, &msg); err != nil {
			*ran = w.ranBefore(err)
			return msg.TxID, nil, err
		}
	}

	w.state.RLock()
	c, err := w.activeConn()
	if err == nil {
		w.calls.Add(1)
	}
	w.state.RUnlock()
	if err != nil {
		return msg.TxID, nil, err
	}
	defer w.calls.Done()

	cl := getCall()
	cl.result, cl.codec = result, w.codec
	c.mu.Lock()
	if c.failErr != nil {
		err := c.failErr
		c.mu.Unlock()
		callPool.Put(cl)
		return msg.TxID, nil, err
	}
	if _, dup := c.pending[msg.TxID]; dup {
		c.mu.Unlock()
		callPool.Put(cl)
		return msg.TxID, nil, fmt.Errorf("%w: %q", shared.ErrDuplicateTxID, msg.TxID)
	}
	c.pending[msg.TxID] = cl
	c.mu.Unlock()

	h := wire.Header{Version: w.version, Kind: shared.KindRequest, Type: typ, ID: msg.TxID, Headers: msg.Headers}
	if d, ok := ctx.Deadline(); ok {
		h.Deadline = d.UnixNano()
	}
	if err := c.send(ctx, &h, msg.Payload); err != nil {
		if c.forget(msg.TxID) {
			// Nothing was queued: the message could not be encoded, or ctx
			// ended while the worker was too slow to take earlier messages.
			// Only this call fails; the connection stays as it is.
			callPool.Put(cl)
			return msg.TxID, nil, err
		}
		// The connection failed and failed this call too (or its reply came
		// first); take that reply.
	}

	select {
	case r := <-cl.done:
		if r.events > 0 {
			if err := c.waitEvents(ctx, msg.TxID, cl); err != nil {
				r.err = err
			}
		}
		callPool.Put(cl)
		return msg.TxID, r.headers, r.err
	case <-ctx.Done():
		if !c.forget(msg.TxID) {
			// The reply is being delivered; it wins, if its events were
			// delivered too.
			r := <-cl.done
			if r.events > 0 {
				if err := c.waitEvents(ctx, msg.TxID, cl); err != nil {
					r.err = err
				}
			}
			callPool.Put(cl)
			return msg.TxID, r.headers, r.err
		}
		callPool.Put(cl)
		c.abandon(msg.TxID)
		ch := wire.Header{Version: w.version, Kind: shared.KindCancel, Type: typ, ID: msg.TxID}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ch.Deadline = h.Deadline // the call's deadline passed: the worker's own timer says so
		}
		c.send(nil, &ch, nil)
		return msg.TxID, nil, context.Cause(ctx)
	}
}

// forget removes a pending call; it reports false when someone else already
// took it (and will deliver a reply), or its reply came.
func (c *conn) forget(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.pending[id]; !ok || cl.replied {
		return false
	}
	delete(c.pending, id)
	return true
}

// maxAbandoned is how many ids of calls that gave up a connection
// remembers, so that their late replies are logged at Debug, not as
// unknown.
const maxAbandoned = 4096

// abandon remembers that the call id gave up waiting: a reply may still
// come.
func (c *conn) abandon(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned == nil {
		return
	}
	if len(c.abandonedIDs) >= maxAbandoned {
		delete(c.abandoned, c.abandonedIDs[0])
		c.abandonedIDs = c.abandonedIDs[1:]
	}
	c.abandoned[id] = struct{}{}
	c.abandonedIDs = append(c.abandonedIDs, id)
}

// waitEvents waits, after cl's reply came, until the events its handler
// emitted were delivered (the reply's count), ctx ends, or the connection
// fails. Events left undelivered are not lost: the events reader delivers
// them to OnEvent when they arrive, and Call says that they were pending.
func (c *conn) waitEvents(ctx context.Context, id string, cl *call) error {
	for {
		c.mu.Lock()
		if !cl.replied || cl.events >= cl.want {
			// All delivered (when they came before the reply, the reader
			// finished the call at once).
			if cl.replied && c.pending != nil {
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return nil
		}
		if err := cmp.Or(c.failErr, c.eventsErr); err != nil {
			got, want := cl.events, cl.want
			c.mu.Unlock()
			return fmt.Errorf("%w: %d of the %d events the handler emitted before it returned were delivered: %w",
				ErrEventsPending, got, want, err)
		}
		c.mu.Unlock()
		select {
		case <-cl.evCh:
		case <-ctx.Done():
			c.mu.Lock()
			got, want := cl.events, cl.want
			if c.pending != nil {
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return fmt.Errorf("%w: %d of the %d events the handler emitted before it returned were delivered before the call's context ended: %w",
				ErrEventsPending, got, want, context.Cause(ctx))
		}
	}
}

// send encodes and queues one message: on the calls stream, or on the bulk
// stream for a large raw payload. It waits for room in the queue at most
// until ctx ends; a nil ctx queues at once (a small control message).
func (c *conn) send(ctx context.Context, h *wire.Header, payload any) error {
	bp := bufPool.Get().(*[]byte)
	defer func() { *bp = (*bp)[:0]; bufPool.Put(bp) }()
	out, raw, err := c.codec.Encode((*bp)[:0], h, payload)
	*bp = out
	if err != nil {
		return err
	}
	s := c.calls
	if len(raw) >= wire.LargeThreshold {
		s = c.bulk
	}
	if ctx == nil {
		err = s.Queue(out, raw)
	} else {
		err = s.Write(ctx, out, raw)
	}
	if err != nil && (ctx == nil || ctx.Err() == nil) {
		// The stream failed: a broken connection, as when a read fails.
		// lost fails every pending call, this one included, with the
		// worker's exit status when it has exited. The request may have
		// reached a worker that crashed on it; its caller must get the exit,
		// not a bare "connection lost".
		c.lost(err)
		return c.err()
	}
	if err != nil {
		return fmt.Errorf("queue request: worker is not taking messages: %w", err)
	}
	return nil
}
