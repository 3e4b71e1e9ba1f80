package host

import (
	"context"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handle binds fn to the message m, for a worker to call on the host with
// plugin.CallHost; put it in Config.Handlers. fn runs on its own goroutine
// while the worker's handler that called it waits (calls nest: fn may
// call the worker again, CallingWorker says which). Its context is
// cancelled when the worker cancels the call or the connection ends, and
// has the call's deadline and headers. Config.Middleware sees the request
// (Incoming) and the reply (Outgoing). A panic in fn is recovered and
// sent to the worker as a RemoteError with code shared.CodePanic.
func Handle[Req, Res any](m shared.Message[Req, Res], fn func(ctx context.Context, req Req) (Res, error)) Handler {
	return peer.Handle(m, fn)
}

// Handlers collects the host's handlers for Config.Handlers; two for one
// message name make Config.Validate fail.
func Handlers(hs ...Handler) HandlerSet { return peer.Handlers("host", hs...) }

type (
	// Handler is one handler the host serves (Handle); the same type as
	// plugin.Handler.
	Handler = peer.Handler
	// HandlerSet is the host's handlers (Handlers); the same type as
	// plugin.HandlerSet.
	HandlerSet = peer.HandlerSet
)

// TxID returns the transaction id of the worker's call that a host
// handler's context belongs to, or "".
func TxID(ctx context.Context) string {
	if ci := peer.CallInfo(ctx); ci != nil {
		return ci.TxID
	}
	return ""
}

// CallingWorker returns the Worker whose call a host handler serves, or
// nil outside a handler.
func CallingWorker(ctx context.Context) *Worker {
	if ci := peer.CallInfo(ctx); ci != nil {
		w, _ := ci.Conn.Owner().(*Worker)
		return w
	}
	return nil
}
