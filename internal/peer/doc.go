// Package peer is the connected peer both sides run: one yamux session to
// the other process and everything on it. The host (host package) and the
// worker (plugin package) configure it; neither speaks the wire itself.
//
// # What a Conn does
//
//   - Streams: the host opens every stream (control, calls, logs, events,
//     bulk, items; handshake/PROTOCOL.md §5); the worker accepts them. Streams the
//     peer does not own (logs, events on the worker, unknown names) go to
//     the role's Config.OnStream.
//   - Calls in both directions: either side sends requests (Call) and
//     serves them (Config.Handlers) on the calls and bulk streams. One
//     writer type (wire.Sender) per stream: no caller waits past its
//     context for a peer that stopped reading.
//   - The pending-call table (duplicate transaction ids are refused on
//     both ends), cancellation, deadlines, and the events a handler emitted
//     before its reply (the host waits for them).
//   - Dispatch: a leader/follower pool of goroutines reads a stream and
//     runs the handler of the request it read, handing the stream to the
//     next goroutine.
//   - Streaming calls (handshake/PROTOCOL.md §10a): the host opens one
//     items stream per call (Caller.Stream, Items), the worker serves it
//     with a HandleStream handler. The request, its handler's context,
//     the running-call table, middleware and events are those of a call;
//     the items have the stream's own flow control (acknowledgements and
//     a 2 MiB window). Only the host opens streams, so only a worker
//     serves them.
//   - The hello: Greet (host) and Welcome (worker), with typed errors.
//
// # Concurrency
//
// Every exported method of a Conn is safe for concurrent use. Replies,
// cancels and requests travel on the same streams and may interleave in
// any order; the messages of one stream are written whole and in the order
// their writes returned. Close (and the session's end) fails the pending
// calls with the connection's error, cancels running handlers, and Wait
// returns after every goroutine the Conn started has ended, handlers
// included.
package peer
