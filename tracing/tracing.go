package tracing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// System is the value of the rpc.system attribute.
const System = "isolated-workers"

// ScopeName is the instrumentation scope of the tracers this package uses.
const ScopeName = "github.com/isolated-workers/isolated-workers-go/tracing"

// Attribute keys, from the OpenTelemetry RPC and error semantic conventions
// and, prefixed isolated_workers., this library's own.
const (
	RPCSystemKey  = attribute.Key("rpc.system")
	RPCServiceKey = attribute.Key("rpc.service")
	RPCMethodKey  = attribute.Key("rpc.method")
	ErrorTypeKey  = attribute.Key("error.type")
	TxIDKey       = attribute.Key("isolated_workers.txid")
	ErrorClassKey = attribute.Key("isolated_workers.error.class")
)

// Config configures the host and the worker middleware. The zero value
// uses the global TracerProvider and W3C Trace Context.
type Config struct {
	// TracerProvider makes the tracer. Default: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator writes the span context into the message headers on the
	// host and reads it on the worker. Default: propagation.TraceContext,
	// the traceparent and tracestate headers (not the global propagator,
	// which is a no-op until a program sets one).
	Propagator propagation.TextMapPropagator
	// Service is the rpc.service attribute and the first part of span
	// names, for example the worker's name. Default: none.
	Service string
}

// tracer holds what both sides need.
type tracer struct {
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	service string
}

func newTracer(cfg Config) tracer {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	prop := cfg.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return tracer{tracer: tp.Tracer(ScopeName), prop: prop, service: cfg.Service}
}

// start starts the span of one call.
func (t *tracer) start(ctx context.Context, kind trace.SpanKind, msg *shared.AnyMessage) (context.Context, trace.Span) {
	name := msg.Type
	attrs := []attribute.KeyValue{RPCSystemKey.String(System), RPCMethodKey.String(msg.Type), TxIDKey.String(msg.TxID)}
	if t.service != "" {
		name = t.service + "/" + msg.Type
		attrs = append(attrs, RPCServiceKey.String(t.service))
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// finish sets the status of a call's span from the message that ends the
// call and ends the span.
func finish(span trace.Span, msg *shared.AnyMessage) {
	if msg.Kind == shared.KindError {
		err, _ := msg.Payload.(error)
		if err == nil {
			err = fmt.Errorf("error reply with a %T payload", msg.Payload)
		}
		if re, ok := err.(*shared.RemoteError); ok {
			fail(span, re, re.Code, faults.Class(re.Class))
		} else {
			fail(span, err, errorType(err), faults.ClassOf(err))
		}
	}
	span.End()
}

// fail records err on span with its type and class.
func fail(span trace.Span, err error, typ string, class faults.Class) {
	attrs := []attribute.KeyValue{ErrorClassKey.String(class.String())}
	if typ != "" {
		attrs = append(attrs, ErrorTypeKey.String(typ))
	}
	span.SetAttributes(attrs...)
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// errorType returns the error.type of a call that failed in the host (see
// "Errors" in the package doc).
func errorType(err error) string {
	var re *shared.RemoteError
	var me *shared.MiddlewareError
	switch {
	case errors.As(err, &re):
		return re.Code
	case errors.As(err, &me):
		return shared.CodeMiddleware
	}
	for _, k := range errorTypes {
		if errors.Is(err, k.err) {
			return k.typ
		}
	}
	if code := faults.CodeOf(err); code != "" {
		return code
	}
	return fmt.Sprintf("%T", err)
}

// errorTypes are the error.type values of the errors a call fails with in
// the host, in the order errorType checks them.
var errorTypes = []struct {
	err error
	typ string
}{
	{host.ErrEventsPending, "events_pending"},
	{context.DeadlineExceeded, shared.CodeDeadline},
	{context.Canceled, shared.CodeCanceled},
	{host.ErrWorkerTerminated, "worker_exited"},
	{host.ErrConnectionLost, "connection_lost"},
	{host.ErrWorkerClosed, "worker_closed"},
	{host.ErrShuttingDown, "shutting_down"},
	{host.ErrDisconnected, "disconnected"},
	{shared.ErrFrameTooLarge, "frame_too_large"},
	{shared.ErrDuplicateTxID, "duplicate_txid"},
}

// Host returns the host middleware: on a request (Outgoing) it starts a
// client span, a child of the span in the call's context, and injects its
// context into the request's headers; at the call's end (Incoming, which
// host.Call runs for every call, also one that fails without a reply) it
// ends the span with the call's status. Put it first in
// host.Config.Middleware.
func Host(cfg Config) shared.Middleware {
	h := &hostSide{tracer: newTracer(cfg), calls: openSpans{m: make(map[string]trace.Span)}}
	return h.middleware
}

// openSpans holds the spans of calls under way, by transaction id.
type openSpans struct {
	mu sync.Mutex
	m  map[string]trace.Span
}

// take removes and returns the span of call id, or nil.
func (o *openSpans) take(id string) trace.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	span := o.m[id]
	delete(o.m, id)
	return span
}

// end ends the span of the call msg ends, if it is open.
func (o *openSpans) end(msg *shared.AnyMessage) {
	if span := o.take(msg.TxID); span != nil {
		finish(span, msg)
	}
}

// hostSide keeps the open client spans, from a call's request to its end.
type hostSide struct {
	tracer
	calls openSpans
}

func (h *hostSide) middleware(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	switch {
	case dir == shared.Outgoing && msg.Kind == shared.KindRequest:
		h.send(ctx, msg)
	case dir == shared.Incoming && (msg.Kind == shared.KindResult || msg.Kind == shared.KindError):
		if err, _ := msg.Payload.(error); errors.Is(err, shared.ErrDuplicateTxID) {
			return nil // send ended this call's span; the open one is the first call's
		}
		h.calls.end(msg)
	}
	return nil
}

func (h *hostSide) send(ctx context.Context, msg *shared.AnyMessage) {
	sctx, span := h.start(ctx, trace.SpanKindClient, msg)
	if msg.Headers == nil {
		msg.Headers = make(map[string]string, 2)
	}
	h.prop.Inject(sctx, propagation.MapCarrier(msg.Headers))
	h.calls.mu.Lock()
	if _, dup := h.calls.m[msg.TxID]; dup {
		h.calls.mu.Unlock()
		// The host refuses the call (shared.ErrDuplicateTxID) and the
		// open span stays the first call's.
		fail(span, shared.ErrDuplicateTxID, "duplicate_txid", faults.Permanent)
		span.End()
		return
	}
	h.calls.m[msg.TxID] = span
	h.calls.mu.Unlock()
}

// Worker returns the worker middleware: on a request (Incoming) it
// extracts the host's span context from the headers and starts a server
// span as its child, and puts the server span's context in the headers the
// handler sees; on the reply (Outgoing) it ends the span with the reply's
// status. Put it first in plugin.Config.Middleware.
func Worker(cfg Config) shared.Middleware {
	w := &workerSide{tracer: newTracer(cfg), calls: openSpans{m: make(map[string]trace.Span)}}
	return w.middleware
}

// workerSide keeps the open server spans, from a request to its reply.
type workerSide struct {
	tracer
	calls openSpans
}

func (w *workerSide) middleware(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	switch {
	case dir == shared.Incoming && msg.Kind == shared.KindRequest:
		parent := w.prop.Extract(ctx, propagation.MapCarrier(msg.Headers))
		sctx, span := w.start(parent, trace.SpanKindServer, msg)
		// The request's own map: change a copy.
		hd := make(map[string]string, len(msg.Headers)+2)
		maps.Copy(hd, msg.Headers)
		w.prop.Inject(sctx, propagation.MapCarrier(hd))
		msg.Headers = hd
		w.calls.mu.Lock()
		old := w.calls.m[msg.TxID]
		w.calls.m[msg.TxID] = span
		w.calls.mu.Unlock()
		if old != nil { // the worker refuses a duplicate id before middleware; be safe
			old.End()
		}
	case dir == shared.Outgoing && (msg.Kind == shared.KindResult || msg.Kind == shared.KindError):
		w.calls.end(msg)
	}
	return nil
}

// Extract returns ctx with the span context its headers carry
// (shared.HeadersFrom) as the remote parent, read with W3C Trace Context.
// In a worker handler behind [Worker] that is the server span of the call,
// so spans the handler starts from the returned context are its children.
func Extract(ctx context.Context) context.Context {
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(shared.HeadersFrom(ctx)))
}
