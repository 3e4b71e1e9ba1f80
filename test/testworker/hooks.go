package main

import (
	"context"
	"errors"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// workerMiddleware returns the middleware a -mw flag asks for.
//   - tag: two middleware that append "[w0]" and "[w1]" to string requests,
//     in order, so the reply shows the order they ran in.
//   - fail-incoming: the first middleware refuses every request.
//   - fail-outgoing: the second middleware refuses every reply.
//   - headers: adds the header "x-worker-mw" to requests and deletes
//     "drop-me" (the handler sees both changes), and appends " [w-out]" to
//     the message of every error reply.
func workerMiddleware(mode string) []shared.Middleware {
	tag := func(s string) shared.Middleware {
		return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
			if p, ok := msg.Payload.(string); ok && dir == shared.Incoming {
				msg.Payload = p + s
			}
			return nil
		}
	}
	fail := func(on shared.Direction) shared.Middleware {
		return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
			if dir == on {
				return errors.New("refused by test middleware")
			}
			return nil
		}
	}
	switch mode {
	case "tag":
		return []shared.Middleware{tag("[w0]"), tag("[w1]")}
	case "fail-incoming":
		return []shared.Middleware{fail(shared.Incoming), tag("[never]")}
	case "fail-outgoing":
		return []shared.Middleware{tag("[w0]"), fail(shared.Outgoing)}
	case "headers":
		return []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
			if dir == shared.Incoming {
				if msg.Headers == nil {
					msg.Headers = map[string]string{}
				}
				msg.Headers["x-worker-mw"] = "seen"
				delete(msg.Headers, "drop-me")
			}
			if re, ok := msg.Payload.(*shared.RemoteError); ok && dir == shared.Outgoing {
				re.Message += " [w-out]"
			}
			return nil
		}}
	}
	return nil
}
