// Package statushub fans job status events out to whoever watches them, on
// the host side: a Hub fans events out to in-process subscribers, a WebSocket
// endpoint streams them to browsers as JSON, and a small embedded page shows
// them as a live table.
//
// The events themselves (status.Event, the Status constants and the
// status.Publisher interface) live in package shared/status, which both
// sides import; this package holds everything that needs net/http,
// html/template or github.com/coder/websocket, so a worker binary, which
// imports only shared/status, links none of them.
//
// # Events
//
// A status.Event is one change of a job's status.Status: PENDING,
// PROCESSING, RETRYING, COMPLETED or FAILED, with the job and worker IDs, the
// attempt, the error and its class, the time, propagated headers (such as
// the W3C traceparent) and optional JSON data. Anything that implements
// status.Publisher accepts events; the Hub is the host-side one (set it as
// host.Config.Status). Events raised inside a worker travel to the host on
// the events stream and are published to the host's Hub there.
//
// # Hub
//
// NewHub returns a Hub. Publish hands an event to every Subscription whose
// filter accepts it and never waits for a subscriber. Each subscription has
// a channel of HubConfig.SubscriberBuffer events; when it is full, events
// wait in the subscription's backlog, in order, and a goroutine of the
// subscription's moves them into the channel as the subscriber reads. Beyond
// SubscriberBuffer waiting events the backlog coalesces to the latest event
// of each job, except that a waiting terminal event (COMPLETED, FAILED) is
// never replaced by a non-terminal one (HubStats.Coalesced). A burst is
// therefore absorbed: a subscriber that reads converges on every job's
// current state. Only a subscriber that has stopped reading is disconnected:
// when an event has waited HubConfig.StallTimeout for room in its channel,
// or when more distinct jobs wait than HubConfig.MaxJobs (the backlog's
// bound). Its channel is then closed, Err returns ErrSlowSubscriber,
// HubStats.Dropped is incremented and HubConfig.OnDrop is called. Job
// processing is never slowed by whoever is watching.
//
// The hub also keeps the latest event of each job (at most HubConfig.MaxJobs
// jobs, the least recently updated forgotten first), so a late subscriber can
// catch up with Snapshot.
//
// # WebSocket endpoint
//
// NewHandler returns an http.Handler that upgrades requests to WebSocket
// connections (github.com/coder/websocket) and sends one JSON text message
// per Event: first the hub's snapshot, then live events. Per client it
// enforces:
//
//   - a connection limit (HandlerConfig.MaxClients): further clients get
//     HTTP 503 with a plain-text body saying why;
//   - bursts are absorbed: the hub puts each event into the client's own
//     queue without waiting. Once more than HubConfig.SubscriberBuffer
//     events are waiting, or the client is out of rate budget, the queue
//     coalesces: it keeps only the latest waiting event of each job, except
//     that a waiting terminal event (COMPLETED, FAILED) is never replaced by
//     a non-terminal one. A client that reads therefore always converges on
//     every job's current state, never loses a terminal event to a later
//     non-terminal one, but may skip intermediate states
//     (HandlerStats.Coalesced). The queue is
//     bounded by jobs, not events: a client with more distinct jobs waiting
//     than HubConfig.MaxJobs is disconnected and counted in
//     HandlerStats.SlowDropped;
//   - a message rate (HandlerConfig.RatePerSecond, Burst): events within the
//     rate are sent one by one, in order; above it they wait, coalescing;
//   - a stall limit (HandlerConfig.WriteTimeout): only a client that has
//     stopped reading is disconnected, when a message has waited that long
//     to be taken. It is counted in HandlerStats.SlowDropped and reported to
//     HandlerConfig.OnDrop.
//
// PageHandler serves a self-contained HTML page that connects to the
// endpoint and shows a live table of jobs.
//
// # Defaults
//
// All defaults for the hub and the WebSocket endpoint are in defaults.go
// (DefaultSubscriberBuffer, DefaultStallTimeout, DefaultMaxJobs,
// DefaultMaxClients, DefaultRatePerSecond, DefaultBurst,
// DefaultWriteTimeout); a zero config
// field means its default. Retry defaults live in package shared/retry.
//
// # Concurrency contract
//
// Every method of Hub, Subscription and Handler is safe for concurrent use.
//
//   - Publish calls are serialised by the hub: all subscribers see events in
//     the same order, and events published by one goroutine (such as all
//     events of one job) arrive in the order they were published, except
//     that coalescing may skip a job's intermediate events and deliver its
//     latest one where its first waiting one was. Publish
//     never blocks on a subscriber; it holds the hub's lock only to update
//     the snapshot and put the event into each subscriber's channel or
//     queue without waiting.
//   - Subscription filters run on the publishing goroutine under the hub's
//     lock: they must be fast and must not call Hub or Subscription methods.
//     HubConfig.OnDrop runs without the lock, on the publishing goroutine or
//     the dropped subscription's own, and must return quickly and not call
//     Hub.Close. HandlerConfig.OnDrop runs on the dropped client's goroutine.
//   - The hub shares each Event (its Headers map and Data slice included)
//     with every subscriber: nobody may modify an event after Publish.
//   - A Subscription's channel is closed exactly once, when it ends; Err then
//     says why. Subscription.Close is idempotent.
//   - Hub.Close closes every subscription (Err returns ErrHubClosed); later
//     Publish calls do nothing and later Subscribe calls return ErrHubClosed.
//     Close returns when every goroutine the hub started (one per
//     subscription with a backlog, while it has one) has ended. Close is
//     idempotent.
//   - On the WebSocket, each job's events arrive in publish order; events of
//     different jobs may be reordered relative to each other only by
//     coalescing.
//   - Handler.Close disconnects every client with close status 1001 (going
//     away), refuses new clients with HTTP 503, and returns when every
//     goroutine it started has ended. A client gets up to 5 s (the
//     coder/websocket limit) to complete the close handshake. Closing the hub
//     also ends every WebSocket connection with status 1001. The
//     http.Server does not track hijacked connections, so call
//     Handler.Close on shutdown.
package statushub
