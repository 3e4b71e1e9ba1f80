// Package status defines job status events, the part of status reporting
// that both a worker and its host need: the Event type, the Status values a
// job moves through, and the Publisher interface that accepts events.
//
// An Event is one change of a job's Status: PENDING, PROCESSING, RETRYING,
// COMPLETED or FAILED, with the job and worker IDs, the attempt, the error
// and its class, the time, propagated headers (such as the W3C traceparent)
// and optional JSON data. Inside a worker, shared/action publishes events
// through a Publisher (plugin.StatusPublisher, for example), and they travel to the
// host on the events stream as shared.StatusEvent; the host hands them to
// host.Config.Status.
//
// The host-side hub, the WebSocket endpoint and the status page live in
// package host/statushub. This package imports nothing beyond the standard
// library's encoding/json and time, so a worker binary links no HTTP,
// template or WebSocket code.
//
// # Concurrency contract
//
// Event is a value; an Event handed to Publish is shared with whoever
// receives it (its Headers map and Data slice included), so nobody may
// modify it after Publish. A Publisher's Publish may be called from many
// goroutines at once and must not block the caller for long.
package status
