// Command tracing shows OpenTelemetry tracing across the process boundary:
// the host's tracing.Host middleware starts a client span per call and
// sends its context in the traceparent header; the worker's tracing.Worker
// middleware starts the server span as its child. Both processes export
// their spans with the SDK's stdout exporter (one JSON object a line, the
// worker's through the host's stdout), and the host prints how they link:
// one trace id, the worker span's parent is the host span. It checks every
// link and status it shows (reading the worker's span lines as they pass
// through) and exits with status 1 if one is not what it expects; the
// failures it provokes on purpose are marked "(expected)".
//
//	go build -o bin/tracing-worker ./examples/tracing/worker
//	go run ./examples/tracing -worker bin/tracing-worker
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/tracing/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/tracing"
)

func main() {
	workerPath := flag.String("worker", "bin/tracing-worker", "path to the worker binary")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "tracing:", err)
		os.Exit(1)
	}
	c.Exit()
}

// spanWait bounds how long the example waits for a worker span line to pass
// through its stdout after the call it belongs to returned (the worker
// exports it before it replies; only the copy through the pipe is left).
const spanWait = 10 * time.Second

func run(c *check.Checker, workerPath string) error {
	ctx := context.Background()
	exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
	if err != nil {
		return fmt.Errorf("stdout exporter: %w", err)
	}
	// The host's spans go to stdout and, to check them, to memory.
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSyncer(mem),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "tracing-example-host"))))
	defer tp.Shutdown(ctx)

	// sent remembers the traceparent of the last request, as tracing.Host
	// left it: the client span's context.
	var sent string
	cmd := exec.Command(workerPath)
	workerSpans := &spanTap{out: os.Stdout, changed: make(chan struct{})}
	cmd.Stdout = workerSpans // the worker's spans, shown and read
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

	// 1. A call: the worker's server span is the child of the host's
	// client span, in the root's trace.
	res, err := host.Call(ctx, w, protocol.Resize, protocol.ResizeReq{Image: "cat.png", Width: 128})
	if err != nil {
		return err
	}
	fmt.Printf("== 1. resize -> %s\n", res.Thumbnail)
	fmt.Printf("   host client span   %s (sent in the traceparent header)\n", spanOf(sent))
	fmt.Printf("   worker server span %s (what its handler saw)\n", spanOf(res.TraceParent))
	c.That(res.Thumbnail == "cat.png@128w", "1. resize -> %q, want %q", res.Thumbnail, "cat.png@128w")
	client, ok := hostSpan(mem, part(sent, 2))
	c.That(ok && client.SpanKind == trace.SpanKindClient && client.Parent.SpanID() == root.SpanContext().SpanID(),
		"1. host client span %s: found %v, kind %v, parent %s; want a client span, the child of the root span %s",
		part(sent, 2), ok, client.SpanKind, client.Parent.SpanID(), root.SpanContext().SpanID())
	server, ok := workerSpans.wait(func(s spanJSON) bool { return s.Parent.SpanID == part(sent, 2) })
	fmt.Printf("   the worker's JSON line for %q names as its Parent span %s (remote: %v)\n", server.Name, server.Parent.SpanID, server.Parent.Remote)
	c.That(ok && server.SpanKind == trace.SpanKindServer && server.Parent.Remote &&
		server.SpanContext.TraceID == root.SpanContext().TraceID().String() &&
		"00-"+server.SpanContext.TraceID+"-"+server.SpanContext.SpanID+"-01" == res.TraceParent,
		"1. worker span with the host client span %s as parent: found %v, %+v; want a server span in trace %s whose context the handler saw (%s)",
		part(sent, 2), ok, server, root.SpanContext().TraceID(), res.TraceParent)
	fmt.Println("   one trace: root -> host client span -> worker server span (-> the handler's own span)")

	// 2. A handler's error: both spans record it with its code and class.
	_, err = host.Call(ctx, w, protocol.Resize, protocol.ResizeReq{Image: "dog.png", Width: 0})
	var re *shared.RemoteError
	fmt.Printf("== 2. (expected) resize with width 0 fails: %v\n", err)
	c.That(errors.As(err, &re) && re.Code == "bad_width" && re.Class == "business",
		"2. resize with width 0 -> %v, want a RemoteError with code bad_width, class business", err)
	client, ok = hostSpan(mem, part(sent, 2))
	fmt.Printf("   (expected) host client span: status %v, error.type %q, class %q\n",
		client.Status.Code, attr(client, tracing.ErrorTypeKey), attr(client, tracing.ErrorClassKey))
	c.That(ok && client.Status.Code == codes.Error && attr(client, tracing.ErrorTypeKey) == "bad_width" &&
		attr(client, tracing.ErrorClassKey) == "business",
		"2. host client span: found %v, status %v, error.type %q, class %q; want Error, bad_width, business",
		ok, client.Status.Code, attr(client, tracing.ErrorTypeKey), attr(client, tracing.ErrorClassKey))
	server, ok = workerSpans.wait(func(s spanJSON) bool { return s.Parent.SpanID == part(sent, 2) })
	fmt.Printf("   (expected) worker server span: status %s, error.type %q, class %q\n",
		server.Status.Code, server.attr(string(tracing.ErrorTypeKey)), server.attr(string(tracing.ErrorClassKey)))
	c.That(ok && server.Status.Code == "Error" && server.attr(string(tracing.ErrorTypeKey)) == "bad_width" &&
		server.attr(string(tracing.ErrorClassKey)) == "business",
		"2. worker server span: found %v, status %q, error.type %q, class %q; want Error, bad_width, business",
		ok, server.Status.Code, server.attr(string(tracing.ErrorTypeKey)), server.attr(string(tracing.ErrorClassKey)))

	// 3. A call that ends in the host without a reply still ends its
	// client span, before Call returns, with the error the caller got.
	_, err = host.Call(ctx, w, protocol.Wait.WithTimeout(50*time.Millisecond), struct{}{})
	fmt.Printf("== 3. (expected) a call past its 50 ms deadline: %v\n", err)
	c.That(errors.Is(err, context.DeadlineExceeded), "3. wait past its deadline -> %v, want context.DeadlineExceeded", err)
	client, ok = hostSpan(mem, part(sent, 2))
	fmt.Printf("   (expected) its host client span ended as Call returned: status %v, error.type %q\n",
		client.Status.Code, attr(client, tracing.ErrorTypeKey))
	c.That(ok && client.Status.Code == codes.Error && attr(client, tracing.ErrorTypeKey) == "deadline_exceeded",
		"3. host client span: ended %v, status %v, error.type %q; want ended, Error, deadline_exceeded",
		ok, client.Status.Code, attr(client, tracing.ErrorTypeKey))
	root.End()
	return nil
}

// hostSpan returns the ended host span with the given span id (hex).
func hostSpan(mem *tracetest.InMemoryExporter, spanID string) (tracetest.SpanStub, bool) {
	for _, s := range mem.GetSpans() {
		if s.SpanContext.SpanID().String() == spanID {
			return s, true
		}
	}
	return tracetest.SpanStub{}, false
}

func attr(s tracetest.SpanStub, key attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// spanOf and part split a traceparent, version-traceid-spanid-flags.
func spanOf(tp string) string { return "trace " + part(tp, 1) + " span " + part(tp, 2) }

func part(tp string, i int) string {
	if f := strings.Split(tp, "-"); len(f) == 4 {
		return f[i]
	}
	return "?"
}

// spanJSON is the part of a span, as the SDK's stdout exporter writes it,
// that the example checks.
type spanJSON struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct {
		TraceID, SpanID string
		Remote          bool
	}
	SpanKind   trace.SpanKind
	Attributes []struct {
		Key   string
		Value struct{ Value any }
	}
	Status struct{ Code, Description string }
}

func (s spanJSON) attr(key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			v, _ := a.Value.Value.(string)
			return v
		}
	}
	return ""
}

// spanTap is the worker's stdout: it passes every line on to out and keeps
// the span each line holds, for wait.
type spanTap struct {
	out     io.Writer
	mu      sync.Mutex
	partial []byte
	spans   []spanJSON
	changed chan struct{} // closed and replaced when a span is added
}

func (t *spanTap) Write(p []byte) (int, error) {
	t.out.Write(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		var s spanJSON
		if json.Unmarshal(t.partial[:i], &s) == nil && s.Name != "" {
			t.spans = append(t.spans, s)
			close(t.changed)
			t.changed = make(chan struct{})
		}
		t.partial = t.partial[i+1:]
	}
	return len(p), nil
}

// wait returns the first span the worker wrote that match accepts, waiting
// for it at most spanWait.
func (t *spanTap) wait(match func(spanJSON) bool) (spanJSON, bool) {
	timeout := time.NewTimer(spanWait)
	defer timeout.Stop()
	for {
		t.mu.Lock()
		for _, s := range t.spans {
			if match(s) {
				t.mu.Unlock()
				return s, true
			}
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			return spanJSON{}, false
		}
	}
}
