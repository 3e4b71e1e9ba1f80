package peer

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

// Caller is one side's configuration for the calls it makes: its
// middleware, transaction ids, default timeout, and how a call finds the
// connection it goes out on. Host and worker each own one.
type Caller struct {
	// Middleware is the chain built from Chain.
	Middleware shared.Middleware
	Chain      []shared.Middleware
	TxID       shared.TxIDGenerator
	// Timeout is the deadline of a call whose message has none (0: none).
	Timeout time.Duration
	// Acquire returns the connection a new call uses and a function to
	// call when the call ends, or why there is none.
	Acquire func(ctx context.Context) (*Conn, func(), error)
}

// call is one request waiting for its reply and, when the reply says the
// handler emitted events, for those events.
type call struct {
	from   string // the peer's role, for its errors (shared.RemoteError.From)
	done   chan reply
	result any // pointer to the typed result, decoded into by the reader
	codec  *wire.Codec

	// Guarded by Conn.mu. A call stays in pending until its events were
	// delivered: the events reader counts them there.
	events  int           // events of this call delivered
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

// decode runs on the reader goroutine, while body is valid.
func (cl *call) decode(h *wire.Header, body []byte) reply {
	if h.Kind == shared.KindError {
		re := new(shared.RemoteError)
		if err := cl.codec.DecodeBody(h, body, re); err != nil {
			return reply{err: fmt.Errorf("decode error reply: %w", err)}
		}
		re.From = cl.from
		return reply{headers: h.Headers, err: re}
	}
	if err := cl.codec.DecodeBody(h, body, cl.result); err != nil {
		return reply{err: err}
	}
	return reply{headers: h.Headers}
}

// Call sends req as message m on the connection cl acquires and waits for
// its result. The returned error is not wrapped with the call's name: the
// caller's API does that. See host.Call for the contract (deadline,
// cancellation, events, middleware), which holds in both directions.
func Call[Req, Res any](ctx context.Context, cl *Caller, m shared.Message[Req, Res], req Req) (Res, error) {
	var res Res
	timeout, ok := m.Timeout()
	if !ok {
		timeout = cl.Timeout
	}
	var ran shared.Middleware // the middleware that saw the request
	txID, headers, err := cl.roundTrip(ctx, m.Name(), timeout, req, &res, &ran)
	if ran != nil {
		msg := shared.AnyMessage{Kind: shared.KindResult, Type: m.Name(), TxID: txID, Headers: headers, Payload: res}
		if err != nil {
			// The peer's *shared.RemoteError, or the local error.
			msg.Kind, msg.Payload = shared.KindError, err
		}
		mwErr := ran(ctx, shared.Incoming, &msg)
		switch {
		case mwErr != nil && err == nil:
			var zero Res
			return zero, mwErr
		case mwErr != nil:
			err = fmt.Errorf("%w; %w", err, mwErr)
		case err == nil:
			res, _ = msg.Payload.(Res)
		}
	}
	if err != nil {
		var zero Res
		return zero, err
	}
	return res, nil
}

// ranBefore returns the middleware that saw a request whose outgoing chain
// failed with err: the chain up to and including the middleware that
// failed. It is built only when a request is refused.
func (cl *Caller) ranBefore(err error) shared.Middleware {
	var me *shared.MiddlewareError
	if errors.As(err, &me) && me.Direction == shared.Outgoing && me.Index >= 0 && me.Index+1 < len(cl.Chain) {
		return shared.Chain(cl.Chain[:me.Index+1])
	}
	return cl.Middleware
}

// roundTrip sends one request and waits for its reply, decoding a result
// into result. It sets *ran to the middleware that saw the request go out,
// which must see the call's end: the chain, or the part of it up to the
// middleware that failed the request; nil when none ran.
func (cl *Caller) roundTrip(ctx context.Context, typ string, timeout time.Duration, req, result any, ran *shared.Middleware) (string, map[string]string, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	msg := shared.AnyMessage{Kind: shared.KindRequest, Type: typ, Headers: shared.HeadersFrom(ctx), Payload: req}
	msg.TxID = cl.TxID(&msg)
	if cl.Middleware != nil {
		// Middleware may edit the headers: give it a map of its own, never
		// the caller's (which ctx may share with other calls).
		hd := make(map[string]string, len(msg.Headers)+1)
		maps.Copy(hd, msg.Headers)
		msg.Headers = hd
		*ran = cl.Middleware
		if err := cl.Middleware(ctx, shared.Outgoing, &msg); err != nil {
			*ran = cl.ranBefore(err)
			return msg.TxID, nil, err
		}
	}
	c, release, err := cl.Acquire(ctx)
	if err != nil {
		return msg.TxID, nil, err
	}
	defer release()
	return c.roundTrip(ctx, &msg, result)
}

func (c *Conn) roundTrip(ctx context.Context, msg *shared.AnyMessage, result any) (string, map[string]string, error) {
	cl := getCall()
	cl.result, cl.codec, cl.from = result, c.cfg.Codec, ""
	if c.cfg.Role == Worker {
		cl.from = Host.String()
	}
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

	h := wire.Header{Version: c.cfg.Version, Kind: shared.KindRequest, Type: msg.Type, ID: msg.TxID, Headers: msg.Headers}
	if d, ok := ctx.Deadline(); ok {
		h.Deadline = d.UnixNano()
	}
	if err := c.send(ctx, &h, msg.Payload); err != nil {
		if c.forget(msg.TxID) {
			// Nothing was queued: the message could not be encoded, or ctx
			// ended while the peer was too slow to take earlier messages.
			// Only this call fails; the connection stays as it is.
			callPool.Put(cl)
			return msg.TxID, nil, err
		}
		// The connection failed and failed this call too (or its reply came
		// first); take that reply.
	}

	select {
	case r := <-cl.done:
		return msg.TxID, r.headers, c.finish(ctx, msg.TxID, cl, r)
	case <-ctx.Done():
		if !c.forget(msg.TxID) {
			// The reply is being delivered; it wins, if its events were
			// delivered too.
			r := <-cl.done
			return msg.TxID, r.headers, c.finish(ctx, msg.TxID, cl, r)
		}
		callPool.Put(cl)
		c.abandon(msg.TxID)
		ch := wire.Header{Version: c.cfg.Version, Kind: shared.KindCancel, Type: msg.Type, ID: msg.TxID}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ch.Deadline = h.Deadline // the call's deadline passed: the peer's own timer says so
		}
		c.send(nil, &ch, nil)
		return msg.TxID, nil, context.Cause(ctx)
	}
}

// finish waits for the events of a call whose reply came, and returns the
// call to the pool.
func (c *Conn) finish(ctx context.Context, id string, cl *call, r reply) error {
	if r.events > 0 {
		if err := c.waitEvents(ctx, id, cl); err != nil {
			r.err = err
		}
	}
	callPool.Put(cl)
	return r.err
}

// forget removes a pending call; it reports false when someone else already
// took it (and will deliver a reply), or its reply came.
func (c *Conn) forget(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.pending[id]; !ok || cl.replied {
		return false
	}
	delete(c.pending, id)
	return true
}

// abandon remembers that the call id gave up waiting: a reply may still
// come.
func (c *Conn) abandon(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
// them when they arrive, and the call says that they were pending.
func (c *Conn) waitEvents(ctx context.Context, id string, cl *call) error {
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

// take returns h's call if it still waits for its reply, for the caller
// to send the reply to (cl.done). A reply that says more of its call's
// events are still to come leaves the call in pending, where the events
// reader counts them (waitEvents). A reply no call waits for is logged: at
// Debug for a call that gave up, as a counted warning otherwise.
func (c *Conn) take(h *wire.Header) *call {
	c.mu.Lock()
	cl := c.pending[h.ID]
	switch {
	case cl == nil:
	case cl.replied:
		cl = nil // a second reply for the id: the first one won
	case h.Events > cl.events:
		cl.replied, cl.want = true, h.Events
	default:
		delete(c.pending, h.ID)
	}
	_, late := c.abandoned[h.ID]
	delete(c.abandoned, h.ID)
	c.mu.Unlock()
	switch {
	case cl != nil:
	case late:
		c.cfg.Logger.Debug("reply for a call no longer waiting", "peer", c.cfg.Peer, "txid", h.ID, "type", h.Type)
	default:
		c.cfg.Unknown.Add("txid", h.ID, "type", h.Type)
	}
	return cl
}

// failCall fails h's call, if it waits, with err.
func (c *Conn) failCall(h *wire.Header, err error) {
	if cl := c.take(h); cl != nil {
		cl.done <- reply{err: err, events: h.Events}
	}
}
