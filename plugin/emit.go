package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// ErrNoCall: Emit was called with a context that is not a handler's.
var ErrNoCall = errors.New("plugin: not a handler context: emit events from inside a handler, with its context")

// Emit sends an event to the host from inside a handler. The event carries
// the call's transaction id and headers (trace context), and the call's
// reply tells the host how many events the handler emitted, so the host's
// Call returns only after they all reached its OnEvent.
//
// While a host is connected, Emit never drops: when Config.LogBuffer events
// already wait for the host, it blocks until there is room or ctx ends; then
// the event is dropped (counted, and the host is told) and Emit returns an
// error wrapping ctx's error. While no host is connected, the event waits
// in a bounded queue (Config.LogBuffer) for the next host; when the queue
// is full the oldest is dropped, counted, and the next host is told (see
// Dropped and shared.DroppedEvent).
func Emit[T any](ctx context.Context, def shared.EventDef[T], v T) error {
	ci, c := callFrom(ctx)
	if ci == nil {
		return ErrNoCall
	}
	return c.s.emit(ctx, ci, def.Name(), v)
}

func (s *server) emit(ctx context.Context, ci *peer.Info, name string, v any) error {
	h := wire.Header{Version: s.version, Kind: shared.KindEvent, Type: name, ID: ci.TxID, Headers: shared.HeadersFrom(ctx)}
	out, raw, err := s.codec.Encode(nil, &h, v)
	if err != nil {
		return fmt.Errorf("plugin: emit event %q: %w", name, err)
	}
	if err := s.events.push(ctx, append(out, raw...), 0, &ci.Events); err != nil {
		return fmt.Errorf("plugin: emit event %q: dropped: %w", name, err)
	}
	return nil
}

// Dropped returns how many events and log records this worker has dropped
// since it started: while no host was connected (its queues keep the newest
// Config.LogBuffer of each), because an Emit's context ended while the host
// was slow, or because the host did not take a log record within
// Config.LogWait. Hosts are told of every drop (shared.DroppedEvent). Outside
// a handler it returns zero counts.
func Dropped(ctx context.Context) shared.Dropped {
	_, c := callFrom(ctx)
	if c == nil {
		return shared.Dropped{}
	}
	return c.s.dropCounts()
}

// StatusPublisher returns a status.Publisher that sends status events to
// the host from inside a handler (see shared/action). Events get the
// handler's trace headers and, when unset, the current time. Publishing
// applies the same backpressure as Emit; an event that cannot be sent is
// logged at warn level (and counted as dropped). It returns nil outside a
// handler.
func StatusPublisher(ctx context.Context) status.Publisher {
	ci, c := callFrom(ctx)
	if ci == nil {
		return nil
	}
	return status.PublisherFunc(func(ev status.Event) {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		if ev.Headers == nil {
			ev.Headers = ci.Headers
		}
		if err := c.s.emit(ctx, ci, shared.StatusEvent.Name(), ev); err != nil {
			c.s.logger.Warn("cannot emit status event", "job_id", ev.JobID, "error", err)
		}
	})
}
