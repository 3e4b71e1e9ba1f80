package shared

import (
	"context"
	"fmt"
	"reflect"
)

// Middleware inspects or changes a message as it is sent (Outgoing) or
// received (Incoming). Returning an error fails that send or receive at
// once; later middleware does not run. On the host the call returns the
// error; on the worker the host receives it as a RemoteError with code
// CodeMiddleware.
//
// On the host, Incoming sees every call's end exactly once: each
// middleware that saw a request (Outgoing) sees its call end (Incoming),
// also when the call fails without a reply. A result has Kind KindResult;
// a failed call has Kind KindError and as Payload a *RemoteError for the
// worker's error, the local error otherwise (a passed deadline, a
// cancellation, a lost connection, an exited worker, a failing outgoing
// middleware, ...). A middleware cannot hide a failed call's error: its
// changes to the error Payload are ignored and an error it returns is
// added to the call's error (see host.Call). So middleware that starts
// something per request (a span, a timer) can end it on Incoming without
// a timer of its own.
//
// Middleware runs on the goroutine of the call or handler it belongs to and
// must be safe for concurrent use.
type Middleware func(ctx context.Context, dir Direction, msg *AnyMessage) error

// MiddlewareError says which middleware failed, in which direction, on
// which message.
type MiddlewareError struct {
	Index     int // position in the Middleware slice, from 0
	Direction Direction
	Type      string
	Err       error
}

func (e *MiddlewareError) Error() string {
	return fmt.Sprintf("middleware %d (%s %q): %v", e.Index, e.Direction, e.Type, e.Err)
}

func (e *MiddlewareError) Unwrap() error { return e.Err }

// Chain composes middleware into one, applied left to right. It is built
// once, when a host or worker is configured. A nil or empty list returns
// nil, which callers skip.
func Chain(mws []Middleware) Middleware {
	if len(mws) == 0 {
		return nil
	}
	mws = append([]Middleware(nil), mws...)
	return func(ctx context.Context, dir Direction, msg *AnyMessage) error {
		for i, mw := range mws {
			before := msg.Payload
			if err := mw(ctx, dir, msg); err != nil {
				return &MiddlewareError{Index: i, Direction: dir, Type: msg.Type, Err: err}
			}
			if before != nil && msg.Payload != nil && reflect.TypeOf(before) != reflect.TypeOf(msg.Payload) {
				return &MiddlewareError{Index: i, Direction: dir, Type: msg.Type,
					Err: fmt.Errorf("replaced payload of type %T with %T", before, msg.Payload)}
			}
		}
		return nil
	}
}
