// Command worker is the tracing example's worker. Its tracing.Worker
// middleware starts a server span per call, the child of the host's client
// span; the resize handler starts a span of its own inside it. The spans
// are exported with the OpenTelemetry SDK's stdout exporter, to stdout (the
// host passes its own stdout on) or to the file named by
// TRACING_EXAMPLE_SPANS.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/isolated-workers/isolated-workers-go/examples/tracing/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/tracing"
)

func main() {
	var out io.Writer = os.Stdout
	if path := os.Getenv(protocol.TraceFileEnv); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "worker: open span file: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		out = f
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(out))
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: stdout exporter: %v\n", err)
		os.Exit(1)
	}
	// A syncer exports each span when it ends, before the reply is sent:
	// nothing is lost when the host stops the worker.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "tracing-example-worker"))))
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("examples/tracing/worker")

	plugin.Serve(plugin.Config{
		Handshake:  protocol.Handshake,
		Middleware: []shared.Middleware{tracing.Worker(tracing.Config{TracerProvider: tp, Service: protocol.Service})},
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Resize, func(ctx context.Context, req protocol.ResizeReq) (protocol.ResizeRes, error) {
				// tracing.Extract gives the server span as the parent.
				_, span := tracer.Start(tracing.Extract(ctx), "decode "+req.Image)
				span.End()
				if req.Width <= 0 {
					return protocol.ResizeRes{}, faults.WithCode(faults.Businessf("width %d is not positive", req.Width), "bad_width")
				}
				return protocol.ResizeRes{
					Thumbnail:   fmt.Sprintf("%s@%dw", req.Image, req.Width),
					TraceParent: shared.TraceParent(ctx),
				}, nil
			}),
			plugin.Handle(protocol.Wait, func(ctx context.Context, _ struct{}) (struct{}, error) {
				<-ctx.Done()
				return struct{}{}, ctx.Err()
			}),
		),
	})
}
