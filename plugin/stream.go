package plugin

import (
	"context"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// ErrStreamEnded: a stream handler's send was called after the handler
// returned.
var ErrStreamEnded = peer.ErrStreamEnded

// HandleStream binds fn to the stream s. The compiler checks that fn takes
// s's request type and sends s's item type. Put it among the worker's
// Handlers like a Handle.
//
// fn runs on its own goroutine, concurrently with other calls and streams.
// Each send writes one item to the host, in order; it blocks while the host
// is slower than fn (the stream's flow control: neither side holds more
// than a bounded amount), and returns an error once the stream cannot go
// on: fn's context ended (the host stopped ranging or cancelled, the
// stream's deadline passed, the host went away), or the item could not be
// encoded (larger than MaxFrameSize or MaxRawSize, for instance). send may
// be called from several goroutines, but only while fn runs.
//
// When fn returns nil the host's range ends without an error; an error
// ends it with a *shared.RemoteError, as for a call. Events fn emits
// (Emit, StatusPublisher) reach the host before its range ends. Incoming
// middleware sees the request and outgoing middleware the stream's end
// (a result without payload, or the error); items pass no middleware. A
// panic in fn is recovered and ends the stream with code shared.CodePanic.
//
// A host that calls a stream with host.Call gets a *shared.RemoteError of
// code shared.CodeUnknownMessage.
func HandleStream[Req, Item any](s shared.Stream[Req, Item], fn func(ctx context.Context, req Req, send func(Item) error) error) Handler {
	return peer.HandleStream(s, fn)
}
