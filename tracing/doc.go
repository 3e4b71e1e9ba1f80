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
// A call that fails has status Error with the error's message, an exception
// event (span.RecordError), and:
//
//	error.type                    the RemoteError's code ("handler", "panic",
//	                              "middleware", ...), or the Go type of a
//	                              local error such as a passed deadline
//	isolated_workers.error.class  its class from shared/faults: transient,
//	                              permanent, system, business or unknown
//
// # Order in the chain
//
// Put [Host] first in host.Config.Middleware and [Worker] first in
// plugin.Config.Middleware, so that the spans cover the other middleware
// and a failing middleware is recorded on them. The worker middleware
// replaces the request's traceparent header with its server span's, so a
// handler that calls [Extract] parents its own spans on the server span.
//
// # Calls that end without a reply
//
// host.Call runs incoming middleware only on a reply (a result or a
// RemoteError). A call that ends without one (its deadline passed, its
// context was cancelled, the connection was lost or the worker exited)
// ends its client span [Config.OrphanGrace] after the call's context ended
// (unless a reply ended it in the meantime), with the time the context
// ended and its cause (a passed deadline, a cancellation) as the error.
// host.Call ends the context of a call with a deadline when the call
// returns, so a lost connection or an exited worker is recorded as
// "canceled". A call with neither a deadline (its context's, its message's or
// host.Config.CallTimeout) nor a reply never ends its span: give calls a
// deadline.
//
// # Concurrency
//
// The middleware [Host] and [Worker] return are safe for concurrent use by
// every call of a worker. The host middleware keeps each open span by the
// call's transaction id: share one between workers only when their
// transaction ids cannot repeat (the default, shared.UUIDv4, does not).
package tracing
