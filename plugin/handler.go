package plugin

import (
	"context"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handler serves one message type. Make one with Handle. It is the same
// type as host.Handler.
type Handler = peer.Handler

// HandlerSet is the handlers a worker serves for one protocol version. It
// is the same type as host.HandlerSet.
type HandlerSet = peer.HandlerSet

// Handle binds fn to the message m. The compiler checks that fn takes m's
// request type and returns m's result type.
//
// fn runs on its own goroutine, concurrently with other calls. Its context
// is cancelled when the host cancels the call, when the call's deadline
// passes, or when the host goes away. A panic in fn is recovered and
// returned to the host as a RemoteError with code shared.CodePanic; the
// worker keeps serving. fn may call the host (CallHost) with its context.
func Handle[Req, Res any](m shared.Message[Req, Res], fn func(ctx context.Context, req Req) (Res, error)) Handler {
	return peer.Handle(m, fn)
}

// Handlers collects handlers into a set. Two handlers for the same message
// name make Config.Validate fail.
func Handlers(hs ...Handler) HandlerSet { return peer.Handlers("plugin", hs...) }
