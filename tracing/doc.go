// Package tracing is OpenTelemetry tracing for isolated-workers calls: a
// middleware for the host ([Host]) that starts a client span per call and
// sends its context to the worker in the traceparent header, and one for the
// worker ([Worker]) that starts the matching server span as its child. One
// trace then crosses the process boundary.
//
// The package uses the OpenTelemetry API only (go.opentelemetry.io/otel,
// otel/trace, otel/propagation). It never imports the SDK: the program that
// installs the middleware chooses the SDK, the exporter and the sampler, and
// passes its TracerProvider in [Config] (or sets the global one). With no
// SDK installed the spans are no-ops. It lives in a package of its own so
// that a program that does not trace does not compile OpenTelemetry in.
//
// # Spans and attributes
//
// Both spans are named "service/method" ("method" when [Config.Service] is
// empty), where the method is the message type, and carry the attributes of
// the OpenTelemetry RPC semantic conventions:
//
//	rpc.system                    "isolated-workers"
//	rpc.service                   Config.Service, when set
//	rpc.method                    the message type, e.g. "resize"
//	isolated_workers.txid         the call's transaction id
//
// # Errors
//
// A call that fails has status Error with the error's message, an exception
// event (span.RecordError), and:
//
//	error.type                    what failed, see below
//	isolated_workers.error.class  its class from shared/faults: transient,
//	                              permanent, system, business or unknown
//
// For the worker's error (a *shared.RemoteError) error.type is its code
// ("handler", "panic", "middleware", "bad_width", ...) and the class is
// the one it carries. host.Call runs the incoming middleware for every
// call, also one that fails in the host without a reply; then error.type
// is, checked in this order:
//
//	middleware         a host middleware failed (*shared.MiddlewareError)
//	events_pending     host.ErrEventsPending: the reply came, not all its events
//	deadline_exceeded  the call's deadline passed (context.DeadlineExceeded)
//	canceled           the caller cancelled it (context.Canceled)
//	worker_exited      the worker exited (*host.ExitError, host.ErrWorkerTerminated)
//	connection_lost    host.ErrConnectionLost
//	worker_closed      host.ErrWorkerClosed
//	shutting_down      host.ErrShuttingDown
//	disconnected       host.ErrDisconnected
//	frame_too_large    shared.ErrFrameTooLarge
//	duplicate_txid     shared.ErrDuplicateTxID
//
// or else a code an error in its chain declares (faults.CodeOf), or else
// its Go type ("*net.OpError"); the class is faults.ClassOf(err).
//
// # Order in the chain
//
// Put [Host] first in host.Config.Middleware and [Worker] first in
// plugin.Config.Middleware, so that the spans cover the other middleware
// and a failing middleware is recorded on them. The worker middleware
// replaces the request's traceparent header with its server span's, so a
// handler that calls [Extract] parents its own spans on the server span.
//
// # When the client span ends
//
// The client span ends when the call ends, before host.Call returns: on its
// reply, or on the error it failed with in the host (a passed deadline, a
// cancellation, a lost connection, an exited worker), whichever way it
// ended and whether or not it had a deadline. No span is left open and
// nothing waits on a timer.
//
// # Concurrency
//
// The middleware [Host] and [Worker] return are safe for concurrent use by
// every call of a worker. The host middleware keeps each open span by the
// call's transaction id: share one between workers only when their
// transaction ids cannot repeat (the default, shared.UUIDv4, does not).
package tracing
