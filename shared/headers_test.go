package shared_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func TestHeadersFromEmpty(t *testing.T) {
	if got := shared.HeadersFrom(context.Background()); got != nil {
		t.Errorf("HeadersFrom(Background) = %v, want nil", got)
	}
	if got := shared.TraceParent(context.Background()); got != "" {
		t.Errorf("TraceParent(Background) = %q, want \"\"", got)
	}
}

func TestWithHeadersMerge(t *testing.T) {
	base := shared.WithHeaders(context.Background(), map[string]string{"a": "1", "b": "2"})
	derived := shared.WithHeaders(base, map[string]string{"b": "override", "c": "3"})
	single := shared.WithHeader(derived, "d", "4")

	tests := []struct {
		name string
		ctx  context.Context
		want map[string]string
	}{
		{"base", base, map[string]string{"a": "1", "b": "2"}},
		{"derived overrides and adds", derived, map[string]string{"a": "1", "b": "override", "c": "3"}},
		{"WithHeader adds one", single, map[string]string{"a": "1", "b": "override", "c": "3", "d": "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, shared.HeadersFrom(tt.ctx)); diff != "" {
				t.Errorf("HeadersFrom (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithHeadersCopiesInput(t *testing.T) {
	h := map[string]string{"k": "v"}
	ctx := shared.WithHeaders(context.Background(), h)
	h["k"] = "changed"
	h["new"] = "x"
	if diff := cmp.Diff(map[string]string{"k": "v"}, shared.HeadersFrom(ctx)); diff != "" {
		t.Errorf("the caller's map changed the context's headers (-want +got):\n%s", diff)
	}
}

func TestWithHeadersNil(t *testing.T) {
	ctx := shared.WithHeaders(context.Background(), nil)
	if got := shared.HeadersFrom(ctx); got == nil || len(got) != 0 {
		t.Errorf("HeadersFrom(WithHeaders(ctx, nil)) = %#v, want an empty map", got)
	}
}

func TestTraceParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := shared.WithHeader(context.Background(), shared.TraceParentHeader, tp)
	ctx = shared.WithHeader(ctx, "other", "x")
	if got := shared.TraceParent(ctx); got != tp {
		t.Errorf("TraceParent = %q, want %q", got, tp)
	}
	if shared.TraceParentHeader != "traceparent" {
		t.Errorf("TraceParentHeader = %q, want the W3C name \"traceparent\"", shared.TraceParentHeader)
	}
}
