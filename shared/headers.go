package shared

import (
	"context"
	"maps"
)

// TraceParentHeader is the W3C trace context header that a call carries
// from the host to the worker's handler and onward into status events.
const TraceParentHeader = "traceparent"

type headersKey struct{}

// WithHeaders returns a context whose calls carry h, merged over any
// headers ctx already carries. On the worker, the handler's context carries
// the headers the host sent.
func WithHeaders(ctx context.Context, h map[string]string) context.Context {
	merged := maps.Clone(HeadersFrom(ctx))
	if merged == nil {
		merged = make(map[string]string, len(h))
	}
	maps.Copy(merged, h)
	return context.WithValue(ctx, headersKey{}, merged)
}

// WithHeader is WithHeaders for one key.
func WithHeader(ctx context.Context, key, value string) context.Context {
	return WithHeaders(ctx, map[string]string{key: value})
}

// HeadersFrom returns the headers ctx carries. The map must not be changed.
func HeadersFrom(ctx context.Context) map[string]string {
	h, _ := ctx.Value(headersKey{}).(map[string]string)
	return h
}

// TraceParent returns the W3C traceparent ctx carries, if any.
func TraceParent(ctx context.Context) string { return HeadersFrom(ctx)[TraceParentHeader] }
