package host

import (
	"fmt"
	"sync/atomic"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// ErrEventsPending: a call's reply came, but not all the events its handler
// emitted before returning were delivered to OnEvent and Status before the
// call's context ended or the connection failed. The error also wraps that
// cause. The events are not dropped by the host: those that arrive later
// are delivered as usual.
var ErrEventsPending = peer.ErrEventsPending

// ReceivedEvent is one event a worker emitted (plugin.Emit), as received:
// the envelope, decoded on demand (Decode, DecodeEvent with the event's
// shared.EventDef). TxID is the transaction id of the call whose handler
// emitted it ("" for the worker's own notices, such as
// shared.DroppedEvent). It is valid only during the OnEvent call that
// receives it.
type ReceivedEvent struct {
	Worker  *Worker
	Type    string
	TxID    string
	Headers map[string]string

	h     wire.Header
	body  []byte
	codec *wire.Codec
}

// Decode decodes the event's payload into v, a pointer.
func (e ReceivedEvent) Decode(v any) error { return e.codec.DecodeBody(&e.h, e.body, v) }

// DecodeEvent decodes ev if it is an event of definition def.
func DecodeEvent[T any](ev ReceivedEvent, def shared.EventDef[T]) (T, bool, error) {
	var v T
	if ev.Type != def.Name() {
		return v, false, nil
	}
	err := ev.Decode(&v)
	return v, err == nil, err
}

// onEvent delivers one event from the worker to OnEvent and, for status
// events, to Status. It runs on the connection's events reader.
func (w *Worker) onEvent(h *wire.Header, body []byte) {
	ev := ReceivedEvent{Worker: w, Type: h.Type, TxID: h.ID, Headers: h.Headers, h: *h, body: body, codec: w.codec}
	if h.Type == shared.DroppedEvent.Name() && h.ID == "" {
		w.noteDropped(ev)
	}
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

// dropCounts are the drops workers reported (shared.DroppedEvent).
type dropCounts struct{ events, logs atomic.Uint64 }

// Dropped returns how many events and log records the worker reported it
// dropped, in total, on every connection this Worker had to it: events and
// records it queued while no host was connected beyond its LogBuffer
// (oldest first), events whose Emit gave up when the handler's context
// ended while the host was slow, and log records the host did not take
// within the worker's LogWait. Each report is also logged as a warning and
// delivered to OnEvent as a shared.DroppedEvent.
func (w *Worker) Dropped() shared.Dropped {
	return shared.Dropped{Events: w.drops.events.Load(), Logs: w.drops.logs.Load()}
}

// noteDropped records a worker's drop notice and logs it.
func (w *Worker) noteDropped(ev ReceivedEvent) {
	var d shared.Dropped
	if err := ev.Decode(&d); err != nil {
		w.logger.Warn("bad drop notice from worker", "worker", w.cfg.Name, "error", err)
		return
	}
	w.drops.events.Add(d.Events)
	w.drops.logs.Add(d.Logs)
	w.logger.Warn(fmt.Sprintf("worker dropped %d events and %d log records (its queues were full: no host connected, or the host was too slow)", d.Events, d.Logs),
		"worker", w.cfg.Name, "dropped_events", d.Events, "dropped_logs", d.Logs)
}

// deliver calls OnEvent, recovering a panic so a bad callback cannot kill
// the events stream.
func (w *Worker) deliver(ev ReceivedEvent) {
	defer func() {
		if r := recover(); r != nil {
			w.logger.Error("OnEvent panicked", "worker", w.cfg.Name, "event", ev.Type, "panic", fmt.Sprint(r))
		}
	}()
	w.cfg.OnEvent(ev)
}
