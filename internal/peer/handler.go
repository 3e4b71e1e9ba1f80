package peer

import (
	"context"
	"fmt"
	"slices"

	"github.com/isolated-workers/isolated-workers-go/handshake"
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

// Name returns the message name the handler serves.
func (h Handler) Name() string { return h.name }

// Handle binds fn to the message m. The compiler checks that fn takes m's
// request type and returns m's result type.
//
// fn runs on its own goroutine, concurrently with other calls. Its context
// is cancelled when the caller cancels the call, when the call's deadline
// passes, or when the connection ends. A panic in fn is recovered and
// returned to the caller as a RemoteError with code shared.CodePanic; the
// side keeps serving.
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

// HandlerSet is the handlers one side serves (for one protocol version).
type HandlerSet struct {
	byName map[string]*Handler
	err    error
}

// Handlers collects handlers into a set. Two handlers for the same message
// name make the set invalid (Err); pkg ("plugin", "host") names the
// package whose Handle and Handlers the user called, in that error.
func Handlers(pkg string, hs ...Handler) HandlerSet {
	set := HandlerSet{byName: make(map[string]*Handler, len(hs))}
	for i := range hs {
		h := hs[i]
		if h.name == "" || h.call == nil {
			set.err = fmt.Errorf("%s: handler %d has no message; make handlers with %s.Handle", pkg, i, pkg)
			continue
		}
		if _, dup := set.byName[h.name]; dup {
			set.err = fmt.Errorf("%s: two handlers for message %q", pkg, h.name)
			continue
		}
		set.byName[h.name] = &h
	}
	return set
}

// Err returns the first problem Handlers found, or nil.
func (s HandlerSet) Err() error { return s.err }

// Names returns the message names the set serves, sorted.
func (s HandlerSet) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s HandlerSet) lookup(name string) *Handler { return s.byName[name] }

// CheckConfig checks what the host's and the worker's configurations
// share: the handshake and the serializer (nil: the default).
func CheckConfig(hs handshake.Config, ser shared.Serializer) error {
	if err := hs.Validate(); err != nil {
		return err
	}
	if ser == nil {
		return nil
	}
	return shared.ValidateSerializer(ser)
}
