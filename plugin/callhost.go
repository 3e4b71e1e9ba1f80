package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Errors of CallHost a caller can match with errors.Is.
var (
	// ErrNoHost: CallHost found no connected host: the context is not a
	// handler's and no host is connected to the worker, or the handler's
	// host is gone.
	ErrNoHost = errors.New("no host connected")
	// ErrConnectionLost: the connection to the host ended while a call to
	// it was pending.
	ErrConnectionLost = errors.New("connection to host lost")
)

// serving is the worker this process serves most recently (ServeContext),
// for CallHost outside a handler.
var serving atomic.Pointer[server]

// CallHost sends req to the host as message m and waits for its result: a
// call from the worker to the host, served by a handler in the host's
// Config.Handlers (host.Handle). The typed messages, middleware (this
// worker's Config.Middleware sees the request Outgoing and the call's end
// Incoming), deadlines, cancellation and errors are those of host.Call in
// the other direction: when ctx ends, the host's handler is cancelled and
// CallHost returns an error wrapping ctx's error; an error the host's
// handler returned arrives as a *shared.RemoteError; a host without a
// handler for m answers with code shared.CodeUnknownMessage.
//
// ctx is best the handler's own context: the call goes to the host that
// called the handler, and carries its headers (trace context). Any other
// context works while a host is connected. With no host connected CallHost
// fails at once with an error matching ErrNoHost; a call pending when the
// connection ends fails with one matching ErrConnectionLost.
//
// A handler of the host may call the worker again, and so on: calls nest
// in both directions without deadlock.
func CallHost[Req, Res any](ctx context.Context, m shared.Message[Req, Res], req Req) (Res, error) {
	s := serverOf(ctx)
	if s == nil {
		var zero Res
		return zero, fmt.Errorf("call %q on host: %w", m.Name(), ErrNoHost)
	}
	res, err := peer.Call(ctx, &s.caller, m, req)
	if err != nil {
		return res, fmt.Errorf("call %q on host: %w", m.Name(), err)
	}
	return res, nil
}

// serverOf returns the server of a handler's context, or the one this
// process serves.
func serverOf(ctx context.Context) *server {
	if _, c := callFrom(ctx); c != nil {
		return c.s
	}
	return serving.Load()
}

// acquire returns the connection a call to the host goes out on: the
// handler's own, or the connected host's.
func (s *server) acquire(ctx context.Context) (*peer.Conn, func(), error) {
	_, c := callFrom(ctx)
	if c == nil || c.s != s {
		s.mu.Lock()
		c = s.active
		s.mu.Unlock()
	}
	if c == nil {
		return nil, nil, ErrNoHost
	}
	if c.Err() != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrNoHost, c.Err())
	}
	return c.Conn, func() {}, nil
}
