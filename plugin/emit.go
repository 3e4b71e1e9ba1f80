package plugin

import (
	"context"
	"errors"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// ErrNoCall: Emit was called with a context that is not a handler's.
var ErrNoCall = errors.New("plugin: not a handler context: emit events from inside a handler, with its context")

// Emit sends an event to the host from inside a handler. It never blocks
// on the host: while no host is connected, events wait in a bounded queue
// (Config.LogBuffer) and reach the next host that connects. The event
// carries the call's headers (trace context).
func Emit[T any](ctx context.Context, def shared.Event[T], v T) error {
	ci := callFrom(ctx)
	if ci == nil {
		return ErrNoCall
	}
	return ci.conn.s.emit(ctx, def.Name(), v)
}

func (s *server) emit(ctx context.Context, name string, v any) error {
	msg := shared.AnyMessage{Kind: shared.KindEvent, Type: name, Headers: shared.HeadersFrom(ctx), Payload: v}
	h := wire.Header{Version: s.version, Kind: shared.KindEvent, Type: name, ID: s.cfg.TxIDGenerator(&msg), Headers: msg.Headers}
	out, raw, err := s.codec.Encode(nil, &h, v)
	if err != nil {
		return err
	}
	s.events.push(append(out, raw...))
	return nil
}

// StatusPublisher returns a status.Publisher that sends status events to
// the host from inside a handler (see shared/action). Events get the
// handler's trace headers and, when unset, the current time. It returns nil
// outside a handler.
func StatusPublisher(ctx context.Context) status.Publisher {
	ci := callFrom(ctx)
	if ci == nil {
		return nil
	}
	return status.PublisherFunc(func(ev status.Event) {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		if ev.Headers == nil {
			ev.Headers = ci.headers
		}
		if err := ci.conn.s.emit(ctx, shared.StatusEvent.Name(), ev); err != nil {
			ci.conn.s.logger.Warn("cannot emit status event", "job_id", ev.JobID, "error", err)
		}
	})
}
