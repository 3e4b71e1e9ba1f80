// Command worker is the middleware example's worker. Its middleware, left
// to right: audit (logs every message), requireAuth (refuses a request
// without the right authorization header) and normalize (rewrites the
// request's name). On the way out each one stamps the reply, so the host
// can print the order they ran in.
package main

import (
	"context"
	"errors"
	"maps"
	"strings"
	"unicode"

	"github.com/isolated-workers/isolated-workers-go/examples/middleware/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	plugin.Serve(plugin.Config{
		Handshake: protocol.Handshake,
		// The chain is built once, here, and runs left to right in both
		// directions: for an incoming request and for the outgoing reply.
		Middleware: []shared.Middleware{
			stamp("audit", audit),
			stamp("auth", requireAuth(protocol.Token)),
			stamp("normalize", normalize),
		},
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Greet, func(ctx context.Context, req protocol.GreetReq) (protocol.GreetRes, error) {
				h := shared.HeadersFrom(ctx)
				return protocol.GreetRes{
					Greeting:    "Hello, " + req.Name + "!",
					HostVia:     h[protocol.HostVia],
					TraceParent: h[shared.TraceParentHeader],
				}, nil
			}),
		),
	})
}

// audit logs every message it sees. Its records travel to the host's
// logger (at Debug: run the host with -v to see them). Records cross to
// the host as JSON, so the enums are logged as their names.
func audit(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	plugin.Logger(ctx).Debug("worker middleware", "direction", dir.String(), "kind", msg.Kind.String(), "type", msg.Type, "txid", msg.TxID)
	return nil
}

// requireAuth refuses requests that lack the expected credential. The host
// receives the refusal as a *shared.RemoteError with code
// shared.CodeMiddleware, at once: a refused call never waits for its
// timeout.
func requireAuth(token string) shared.Middleware {
	return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir != shared.Incoming {
			return nil
		}
		if msg.Headers[protocol.AuthHeader] != token {
			return errors.New("missing or invalid authorization header")
		}
		return nil
	}
}

// normalize rewrites the request before the handler sees it: it trims the
// name and capitalises each word. A middleware may replace the payload
// with another value of the same type, never of another type.
func normalize(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	req, ok := msg.Payload.(protocol.GreetReq)
	if dir != shared.Incoming || !ok {
		return nil
	}
	words := strings.Fields(req.Name)
	for i, w := range words {
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		words[i] = string(r)
	}
	req.Name = strings.Join(words, " ")
	msg.Payload = req
	return nil
}

// stamp wraps a middleware so that, when it lets a reply through, its name
// is appended to the reply's x-worker-via header.
func stamp(name string, mw shared.Middleware) shared.Middleware {
	return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if err := mw(ctx, dir, msg); err != nil {
			return err
		}
		if dir == shared.Outgoing {
			appendHeader(msg, protocol.WorkerVia, name)
		}
		return nil
	}
}

// appendHeader adds value to a comma-separated header. It copies the map
// first: on the worker, msg.Headers is nil when the host sent no headers,
// and it is the request's own map rather than one made for the middleware.
func appendHeader(msg *shared.AnyMessage, key, value string) {
	h := maps.Clone(msg.Headers)
	if h == nil {
		h = make(map[string]string, 1)
	}
	if old := h[key]; old != "" {
		value = old + "," + value
	}
	h[key] = value
	msg.Headers = h
}
