// Package status defines job status events, the part of status reporting
// that both a worker and its host need: the Event type, the Status values a
// job moves through, and the Publisher interface that accepts events.
//
// An Event is one change of a job's Status: PENDING, PROCESSING, RETRYING,
// COMPLETED or FAILED, with the job and worker IDs, the attempt, the error
// and its class, the time, propagated headers (such as the W3C traceparent)
// and optional JSON data. Inside a worker, shared/action publishes events
// through a Publisher (plugin.StatusPublisher, for example; it is the
// action.JobInfo's Status), and they travel to the host on the events
// stream as shared.StatusEvent (buffered like logs while no host is
// connected); the host hands them to host.Config.Status, typically a
// *statushub.Hub, which fans them out to in-process subscribers and, over a
// WebSocket, to browsers.
//
// The host-side hub, the WebSocket endpoint and the status page live in
// package host/statushub. This package imports nothing beyond the standard
// library's encoding/json and time, so a worker binary links no HTTP,
// template or WebSocket code.
//
// # A job's statuses
//
// In order: PENDING (published by whoever queues the job, as examples/jobs
// does; a pipeline does not), PROCESSING when the pipeline starts, RETRYING
// before each retry (with the failed attempt's number, error and class),
// then COMPLETED or FAILED (with the error and its class). Anything with
// Publish(Event) is a [Publisher]; [PublisherFunc] adapts a function.
//
// # Event JSON
//
// An Event's JSON form is the status protocol: every WebSocket message of
// host/statushub is one text frame holding one event, for example
//
//	{"jobId":"job-42","workerId":"worker-4242","status":"RETRYING","attempt":1,
//	 "error":"dial tcp 10.0.0.7:443: i/o timeout","errorClass":"transient",
//	 "time":"2025-01-02T03:04:05.123456789Z",
//	 "headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
//
// The fields:
//
//	field       type               always  meaning
//	jobId       string             yes     the job
//	workerId    string             no      the worker that ran the attempt (action.JobInfo.WorkerID)
//	status      string             yes     PENDING, PROCESSING, RETRYING, COMPLETED or FAILED
//	attempt     number             yes     RETRYING: the attempt that failed, from 1; otherwise the
//	                                       job's attempt (a pipeline starts at 1; 0 in a PENDING event)
//	error       string             no      the error message (RETRYING, FAILED)
//	errorClass  string             no      its class (package shared/faults): transient, permanent,
//	                                       system, business or unknown
//	time        string             yes     when the status changed: RFC 3339 with nanoseconds and a UTC offset
//	headers     object of strings  no      the call's headers, e.g. the W3C traceparent
//	data        any JSON           no      free-form data set by code that publishes events itself
//	                                       (the pipeline sets none)
//
// Clients should ignore fields they do not know.
//
// # Trace context
//
// A host call carries headers (shared.WithHeader(ctx,
// shared.TraceParentHeader, tp), or a host middleware that adds them). In
// the worker the handler reads them with shared.HeadersFrom(ctx) and passes
// them as action.JobInfo.Headers; every status event copies them, so the
// traceparent of the call that ran the job is in each event (and in its
// dead-letter entry). plugin.StatusPublisher also fills in the handler's
// headers for an event published without any.
//
// # Concurrency contract
//
// Event is a value; an Event handed to Publish is shared with whoever
// receives it (its Headers map and Data slice included), so nobody may
// modify it after Publish. A Publisher's Publish may be called from many
// goroutines at once and must not block the caller for long.
package status
