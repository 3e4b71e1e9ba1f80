package plugin

import (
	"context"
	"fmt"
	"slices"

	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handler serves one message type. Make one with Handle.
type Handler struct {
	name   string
	decode func(c *wire.Codec, h *wire.Header, body []byte) (any, error)
	call   func(ctx context.Context, req any) (any, error)
	stream *streamHandler // set for a stream (HandleStream); call then refuses
}

// Handle binds fn to the message m. The compiler checks that fn takes m's
// request type and returns m's result type.
//
// fn runs on its own goroutine, concurrently with other calls. Its context
// is cancelled when the host cancels the call, when the call's deadline
// passes, or when the host goes away. A panic in fn is recovered and
// returned to the host as a RemoteError with code shared.CodePanic; the
// worker keeps serving.
func Handle[Req, Res any](m shared.Message[Req, Res], fn func(ctx context.Context, req Req) (Res, error)) Handler {
	return Handler{
		name: m.Name(),
		decode: func(c *wire.Codec, h *wire.Header, body []byte) (any, error) {
			var req Req
			err := c.DecodeBody(h, body, &req)
			return req, err
		},
		call: func(ctx context.Context, req any) (any, error) {
			r, ok := req.(Req)
			if !ok {
				var want Req
				return nil, fmt.Errorf("middleware replaced the request with a %T, handler takes %T", req, want)
			}
			return fn(ctx, r)
		},
	}
}

// HandlerSet is the handlers a worker serves for one protocol version.
type HandlerSet struct {
	byName map[string]*Handler
	err    error
}

// Handlers collects handlers into a set. Two handlers for the same message
// name make Config.Validate fail.
func Handlers(hs ...Handler) HandlerSet {
	set := HandlerSet{byName: make(map[string]*Handler, len(hs))}
	for i := range hs {
		h := hs[i]
		if h.name == "" || h.call == nil {
			set.err = fmt.Errorf("plugin: handler %d has no message; make handlers with plugin.Handle", i)
			continue
		}
		if _, dup := set.byName[h.name]; dup {
			set.err = fmt.Errorf("plugin: two handlers for message %q", h.name)
			continue
		}
		set.byName[h.name] = &h
	}
	return set
}

// Names returns the message names the set serves, sorted.
func (s HandlerSet) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
