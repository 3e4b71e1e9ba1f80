package host

import (
	"context"
	"fmt"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

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
	res, err := peer.Call(ctx, &w.caller, m, req)
	if err != nil {
		return res, fmt.Errorf("call %q on worker %q: %w", m.Name(), w.cfg.Name, err)
	}
	return res, nil
}

// acquire returns the connection a new call uses, counting the call for
// Shutdown until it ends.
func (w *Worker) acquire(context.Context) (*peer.Conn, func(), error) {
	w.state.RLock()
	defer w.state.RUnlock()
	c, err := w.activeConn()
	if err != nil {
		return nil, nil, err
	}
	w.calls.Add(1)
	return c.Conn, w.calls.Done, nil
}
