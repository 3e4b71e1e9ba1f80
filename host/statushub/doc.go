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
// Wiring a hub, its endpoint and the page into a host:
//
//	hub, _ := statushub.NewHub(statushub.HubConfig{})
//	ws, _ := statushub.NewEndpoint(hub, statushub.EndpointConfig{})
//	defer ws.Close()                                    // the http.Server does not track hijacked WebSocket connections
//	mux.Handle("/status/", statushub.PageHandler("ws")) // the live page; "ws" resolves to /status/ws
//	mux.Handle("/status/ws", ws)
//	w, _ := host.Start(ctx, host.Config{Cmd: cmd, Handshake: hs, Status: hub})
//
// NewEndpoint returns an http.Handler that upgrades requests to WebSocket
// connections (github.com/coder/websocket) and sends one JSON text message
// per Event (its fields: package shared/status, "Event JSON"):
//
//   - On connect a client first gets the snapshot, the latest event of
//     every job the hub knows (at most HubConfig.MaxJobs, least recently
//     updated first), sent without rate limiting, then live events.
//     Snapshot and live stream are taken atomically: no event is missed or
//     sent twice. EndpointConfig.SkipSnapshot turns the snapshot off.
//   - A plain GET (or HEAD) of the same URL, without Upgrade: websocket,
//     returns the snapshot as one JSON array (curl
//     http://localhost:8080/status/ws); it does not count against the
//     client limit.
//   - Each job's events arrive in the order they were published.
//   - Clients send nothing: a data message from a client closes the
//     connection with status 1008 (policy violation); pings are answered.
//     The server closes with 1001 (going away) when the hub or the endpoint
//     shuts down.
//
// Per client it enforces:
//
//   - a connection limit (EndpointConfig.MaxClients, default 64): further
//     clients get HTTP 503 with a plain-text body saying why: too many
//     status clients: 64 are connected, the limit (EndpointConfig.MaxClients)
//     is 64; close another status page or try again later;
//   - bursts are absorbed: the hub puts each event into the client's own
//     queue without waiting. Once more than HubConfig.SubscriberBuffer
//     events are waiting, or the client is out of rate budget, the queue
//     coalesces: it keeps only the latest waiting event of each job, except
//     that a waiting terminal event (COMPLETED, FAILED) is never replaced by
//     a non-terminal one. A client that reads therefore always converges on
//     every job's current state, never loses a terminal event to a later
//     non-terminal one, but may skip intermediate states
//     (EndpointStats.Coalesced). Events published in a tight loop (10,000 in
//     the tests) reach a reading client with every job's final state. The
//     queue is bounded by jobs, not events: a client with more distinct
//     jobs waiting than HubConfig.MaxJobs is disconnected and counted in
//     EndpointStats.SlowDropped;
//   - a message rate (EndpointConfig.RatePerSecond, default 200 a second;
//     Burst, default 100): events within the rate are sent one by one, in
//     order; above it they wait, coalescing;
//   - a stall limit (EndpointConfig.WriteTimeout, default 5s): only a client
//     that has stopped reading is disconnected, without a close handshake,
//     when a message has waited that long to be taken. It is counted in
//     EndpointStats.SlowDropped and reported to EndpointConfig.OnDrop.
//     Reconnecting gives a fresh snapshot; the bundled page does so with
//     backoff.
//
// # Configuration and defaults
//
// A zero field means its default; the defaults are constants in
// defaults.go (DefaultSubscriberBuffer, DefaultStallTimeout,
// DefaultMaxJobs, DefaultMaxClients, DefaultRatePerSecond, DefaultBurst,
// DefaultWriteTimeout). Retry defaults live in package shared/retry, the
// breaker and dead-letter defaults in package shared/action.
//
//	EndpointConfig   default  meaning
//	MaxClients      64       clients connected at once; more get HTTP 503
//	RatePerSecond   200      sustained messages per second per client; math.Inf(1) means no limit
//	Burst           100      messages a client may get at once above the rate after a quiet period
//	WriteTimeout    5s       how long a message may wait to be taken; a client that stopped reading
//	                         this long is dropped
//	OnDrop          none     func(subscriberID, reason string), called for every client dropped as slow
//	SkipSnapshot    false    send no snapshot on connect
//	OriginPatterns  none     extra origins cross-origin browsers may connect from
//	                         (websocket.AcceptOptions); same-origin is always allowed
//
//	HubConfig         default  meaning
//	SubscriberBuffer  256      a subscription's channel capacity, and the waiting events beyond which a
//	                           subscriber's (or WebSocket client's) queue coalesces per job
//	StallTimeout      5s       how long a subscription may leave an event untaken with its channel
//	                           full before it is dropped
//	MaxJobs           10000    jobs kept in the snapshot (least recently updated evicted first); also
//	                           the most distinct jobs a subscriber or WebSocket client may have waiting
//	Logger            discard  hclog logger; dropped subscribers are logged at Warn
//	OnDrop            none     func(subscriberID, reason string), called for every dropped
//	                           subscription; must not call Hub.Close
//
// Counters: Hub.Stats ([HubStats]: Published, Delivered, Coalesced,
// Dropped, Subscribers) and Endpoint.Stats ([EndpointStats]: Clients,
// Accepted, Rejected, SlowDropped, Sent, Coalesced).
//
// # The status page
//
// PageHandler(wsPath) serves one self-contained HTML page (no external
// resources, a strict Content-Security-Policy) that loads the snapshot,
// connects to the WebSocket (a relative wsPath resolves against the page's
// URL; https pages use wss) and shows a live table of jobs: id, status
// badge, attempt, worker, error, time. Rows carry data-job and data-status
// attributes for scripts. make demo-serve keeps one up at
// http://127.0.0.1:8080/; make test checks it in headless Chromium
// (TestPageInBrowser, and TestStatusPageShowsJobsInBrowser with real
// workers): a status change published after the page loaded must appear
// on it.
//
// # Concurrency contract
//
// Every method of Hub, Subscription and Endpoint is safe for concurrent use.
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
//     Hub.Close. EndpointConfig.OnDrop runs on the dropped client's goroutine.
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
//   - Endpoint.Close disconnects every client with close status 1001 (going
//     away), refuses new clients with HTTP 503, and returns when every
//     goroutine it started has ended. A client gets up to 5 s (the
//     coder/websocket limit) to complete the close handshake. Closing the hub
//     also ends every WebSocket connection with status 1001. The
//     http.Server does not track hijacked connections, so call
//     Endpoint.Close on shutdown.
package statushub
