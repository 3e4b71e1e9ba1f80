package host

import (
	"context"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handler serves one message type that the worker calls on the host
// (plugin.CallHost). Make one with Handle. It is the same type as
// plugin.Handler.
type Handler = peer.Handler

// HandlerSet is the handlers a host serves to its workers
// (Config.Handlers). It is the same type as plugin.HandlerSet.
type HandlerSet = peer.HandlerSet

// Handle binds fn to the message m, for a worker to call on the host with
// plugin.CallHost. The compiler checks that fn takes m's request type and
// returns m's result type.
//
// fn runs on its own goroutine, concurrently with other calls (a call the
// host makes may be waiting for the worker's handler that called fn: that
// is fine, calls nest in both directions). Its context is cancelled when
// the worker cancels the call, when the call's deadline passes, or when
// the connection ends; TxID and the request's headers are in it, and
// hclog.FromContext returns the host's logger. A panic in fn is recovered
// and returned to the worker as a RemoteError with code shared.CodePanic.
// The host's Config.Middleware sees the request (Incoming) and the reply
// (Outgoing), as a worker's middleware does.
func Handle[Req, Res any](m shared.Message[Req, Res], fn func(ctx context.Context, req Req) (Res, error)) Handler {
	return peer.Handle(m, fn)
}

// Handlers collects handlers into a set. Two handlers for the same message
// name make Config.Validate fail.
func Handlers(hs ...Handler) HandlerSet { return peer.Handlers("host", hs...) }

// TxID returns the transaction id of the call a host handler's context
// belongs to, or "".
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
