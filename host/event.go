package host

import (
	"errors"
	"fmt"
	"io"

	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// Event is one event a worker emitted (plugin.Emit). It is valid only
// during the OnEvent call that receives it.
type Event struct {
	Worker  *Worker
	Type    string
	TxID    string
	Headers map[string]string

	h     wire.Header
	body  []byte
	codec *wire.Codec
}

// Decode decodes the event's payload into v, a pointer.
func (e Event) Decode(v any) error { return e.codec.DecodeBody(&e.h, e.body, v) }

// DecodeEvent decodes ev if it is an event of definition def.
func DecodeEvent[T any](ev Event, def shared.Event[T]) (T, bool, error) {
	var v T
	if ev.Type != def.Name() {
		return v, false, nil
	}
	err := ev.Decode(&v)
	return v, err == nil, err
}

// readEvents delivers the worker's events to OnEvent and, for status
// events, to Status.
func (c *conn) readEvents(r *frame.Reader) {
	w := c.w
	for {
		h, body, err := w.codec.Read(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && c.err() == nil {
				w.logger.Debug("events stream ended", "worker", w.cfg.Name, "error", err)
			}
			return
		}
		if h.Kind != shared.KindEvent {
			w.logger.Warn("unexpected message on the events stream", "worker", w.cfg.Name, "kind", h.Kind)
			continue
		}
		ev := Event{Worker: w, Type: h.Type, TxID: h.ID, Headers: h.Headers, h: h, body: body, codec: w.codec}
		if w.cfg.Status != nil && h.Type == shared.StatusEvent.Name() {
			var se status.Event
			if err := ev.Decode(&se); err != nil {
				w.logger.Warn("bad status event from worker", "worker", w.cfg.Name, "error", err)
			} else {
				w.cfg.Status.Publish(se)
			}
		}
		if w.cfg.OnEvent != nil {
			w.deliver(ev)
		}
	}
}

// deliver calls OnEvent, recovering a panic so a bad callback cannot kill
// the events stream.
func (w *Worker) deliver(ev Event) {
	defer func() {
		if r := recover(); r != nil {
			w.logger.Error("OnEvent panicked", "worker", w.cfg.Name, "event", ev.Type, "panic", fmt.Sprint(r))
		}
	}()
	w.cfg.OnEvent(ev)
}
