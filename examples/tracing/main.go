// Command tracing shows OpenTelemetry tracing across the process boundary:
// the host's tracing.Host middleware starts a client span per call and
// sends its context in the traceparent header; the worker's tracing.Worker
// middleware starts the server span as its child. Both processes export
// their spans with the SDK's stdout exporter (one JSON object a line, the
// worker's through the host's stdout), and the host prints how they link:
// one trace id, the worker span's parent is the host span.
//
//	go build -o bin/tracing-worker ./examples/tracing/worker
//	go run ./examples/tracing -worker bin/tracing-worker
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/isolated-workers/isolated-workers-go/examples/tracing/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/tracing"
)

func main() {
	workerPath := flag.String("worker", "bin/tracing-worker", "path to the worker binary")
	flag.Parse()
	if err := run(*workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "tracing:", err)
		os.Exit(1)
	}
}

func run(workerPath string) error {
	ctx := context.Background()
	exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
	if err != nil {
		return fmt.Errorf("stdout exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "tracing-example-host"))))
	defer tp.Shutdown(ctx)

	// sent remembers the traceparent of the last request, as tracing.Host
	// left it: the client span's context.
	var sent string
	cmd := exec.Command(workerPath)
	cmd.Stdout = os.Stdout // the worker's spans
	w, err := host.Start(ctx, host.Config{
		Cmd:         cmd,
		Handshake:   protocol.Handshake,
		CallTimeout: 10 * time.Second,
		Middleware: []shared.Middleware{
			tracing.Host(tracing.Config{TracerProvider: tp, Service: protocol.Service}),
			func(_ context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
				if dir == shared.Outgoing {
					sent = msg.Headers[shared.TraceParentHeader]
				}
				return nil
			},
		},
	})
	if err != nil {
		return err
	}
	defer w.Close()

	ctx, root := tp.Tracer("examples/tracing").Start(ctx, "make thumbnails")
	fmt.Printf("== root span in the host: trace %s\n", root.SpanContext().TraceID())

	res, err := host.Call(ctx, w, protocol.Resize, protocol.ResizeReq{Image: "cat.png", Width: 128})
	if err != nil {
		return err
	}
	fmt.Printf("== resize -> %s\n", res.Thumbnail)
	fmt.Printf("   host client span  %s (sent in the traceparent header)\n", spanOf(sent))
	fmt.Printf("   worker server span %s (what its handler saw)\n", spanOf(res.TraceParent))
	if traceOf(sent) != traceOf(res.TraceParent) {
		return fmt.Errorf("the worker's span is in trace %s, not the host's %s", traceOf(res.TraceParent), traceOf(sent))
	}
	fmt.Println("   one trace: the worker span's JSON line names the host span as its Parent")

	_, err = host.Call(ctx, w, protocol.Resize, protocol.ResizeReq{Image: "dog.png", Width: 0})
	var re *shared.RemoteError
	if !errors.As(err, &re) {
		return fmt.Errorf("resize with width 0: got %v, want a RemoteError", err)
	}
	fmt.Printf("== resize with width 0 fails as planned: %v\n", err)
	fmt.Printf("   both spans have status Error, error.type %q and isolated_workers.error.class %q\n", re.Code, re.Class)
	root.End()
	return nil
}

// traceOf and spanOf split a traceparent, version-traceid-spanid-flags.
func traceOf(tp string) string { return part(tp, 1) }
func spanOf(tp string) string  { return "trace " + part(tp, 1) + " span " + part(tp, 2) }

func part(tp string, i int) string {
	if f := strings.Split(tp, "-"); len(f) == 4 {
		return f[i]
	}
	return "?"
}
