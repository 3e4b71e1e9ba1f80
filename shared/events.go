package shared

import "github.com/isolated-workers/isolated-workers-go/shared/status"

// StatusEvent carries job status events from a worker to its host, where
// host.Config.Status (for example a *statushub.Hub, package host/statushub) receives them.
var StatusEvent = NewEvent[status.Event]("iw.status")

// Dropped is the payload of DroppedEvent: how many events and log records a
// worker dropped since it last told a host.
type Dropped struct {
	Events uint64 `json:"events" msgpack:"events"`
	Logs   uint64 `json:"logs" msgpack:"logs"`
}

// DroppedEvent is the notice a worker sends before anything else it queued
// when it had to drop events or log records: while no host was connected
// (its bounded buffer dropped the oldest) or, for log records, when the host
// did not take them within the worker's LogWait. The host logs a warning
// naming the counts, adds them to host.Worker.Dropped and delivers the
// notice to OnEvent like any event. Its transaction id is empty.
var DroppedEvent = NewEvent[Dropped]("iw.dropped")
