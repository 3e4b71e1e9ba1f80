package tracing_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/isolated-workers/isolated-workers-go/examples/tracing/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
	"github.com/isolated-workers/isolated-workers-go/tracing"
)

// traced is a real worker whose spans go to a file, and a host whose spans
// go to an in-memory exporter as they end.
type traced struct {
	w         *host.Worker
	tp        *sdktrace.TracerProvider
	host      *tracetest.InMemoryExporter
	spansFile string
}

// newTracedHost returns a traced whose host spans go to an in-memory
// exporter, synchronously, as each ends.
func newTracedHost(t *testing.T) *traced {
	t.Helper()
	tr := &traced{host: tracetest.NewInMemoryExporter()}
	tr.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tr.host))
	t.Cleanup(func() { tr.tp.Shutdown(context.Background()) })
	return tr
}

// startTraced starts the tracing example's worker with tracing.Host first in
// the host's chain.
func startTraced(t *testing.T, cfg tracing.Config) *traced {
	t.Helper()
	tr := newTracedHost(t)
	tr.spansFile = filepath.Join(t.TempDir(), "worker-spans.json")
	cfg.TracerProvider = tr.tp
	cfg.Service = protocol.Service
	cmd := exec.Command(workerBin)
	cmd.Env = append(os.Environ(), protocol.TraceFileEnv+"="+tr.spansFile)
	w, err := host.Start(context.Background(), host.Config{
		Cmd:        cmd,
		Handshake:  protocol.Handshake,
		Middleware: []shared.Middleware{tracing.Host(cfg)},
	})
	if err != nil {
		t.Fatalf("host.Start(%s): %v", workerBin, err)
	}
	t.Cleanup(func() { w.Close() })
	tr.w = w
	return tr
}

// spanJSON is a span as the SDK's stdout exporter writes it.
type spanJSON struct {
	Name        string
	SpanContext spanContextJSON
	Parent      spanContextJSON
	SpanKind    trace.SpanKind
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
	Status struct{ Code, Description string }
}

type spanContextJSON struct {
	TraceID, SpanID string
	Remote          bool
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

// workerSpans reads the spans the worker exported. The worker exports a
// span when it ends, before it sends the call's reply.
func (tr *traced) workerSpans(t *testing.T) []spanJSON {
	t.Helper()
	f, err := os.Open(tr.spansFile)
	if err != nil {
		t.Fatalf("worker spans: %v", err)
	}
	defer f.Close()
	var spans []spanJSON
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s spanJSON
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("worker span %q: %v", sc.Text(), err)
		}
		spans = append(spans, s)
	}
	return spans
}

func findWorkerSpan(t *testing.T, spans []spanJSON, name string, kind trace.SpanKind) spanJSON {
	t.Helper()
	for _, s := range spans {
		if s.Name == name && s.SpanKind == kind {
			return s
		}
	}
	t.Fatalf("no worker span %q of kind %v in %+v", name, kind, spans)
	return spanJSON{}
}

func findHostSpan(t *testing.T, spans tracetest.SpanStubs, name string, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name && s.SpanKind == kind {
			return s
		}
	}
	t.Fatalf("no host span %q of kind %v in %d spans", name, kind, len(spans))
	return tracetest.SpanStub{}
}

func hostAttr(s tracetest.SpanStub, key attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// TestTraceCrossesProcessBoundary checks that the worker's server span is
// the child of the host's client span, which is the child of the caller's
// span, and that a span the handler starts is the server span's child.
func TestTraceCrossesProcessBoundary(t *testing.T) {
	tr := startTraced(t, tracing.Config{})
	ctx, root := tr.tp.Tracer("test").Start(context.Background(), "root")
	res, err := host.Call(ctx, tr.w, protocol.Resize, protocol.ResizeReq{Image: "a.png", Width: 10})
	root.End()
	if err != nil {
		t.Fatalf("Call(Resize) = %v", err)
	}

	client := findHostSpan(t, tr.host.GetSpans(), protocol.Service+"/resize", trace.SpanKindClient)
	if client.Parent.SpanID() != root.SpanContext().SpanID() {
		t.Errorf("host client span's parent = %s, want the caller's span %s", client.Parent.SpanID(), root.SpanContext().SpanID())
	}
	if client.Status.Code != codes.Unset {
		t.Errorf("host client span status = %v %q, want Unset",
			client.Status.Code, client.Status.Description)
	}

	spans := tr.workerSpans(t)
	server := findWorkerSpan(t, spans, protocol.Service+"/resize", trace.SpanKindServer)
	if server.SpanContext.TraceID != client.SpanContext.TraceID().String() {
		t.Errorf("worker span trace = %s, want the host's %s", server.SpanContext.TraceID, client.SpanContext.TraceID())
	}
	if server.Parent.SpanID != client.SpanContext.SpanID().String() || !server.Parent.Remote {
		t.Errorf("worker span parent = %+v, want the host client span %s (remote)", server.Parent, client.SpanContext.SpanID())
	}
	decode := findWorkerSpan(t, spans, "decode a.png", trace.SpanKindInternal)
	if decode.Parent.SpanID != server.SpanContext.SpanID {
		t.Errorf("handler span parent = %s, want the worker server span %s", decode.Parent.SpanID, server.SpanContext.SpanID)
	}
	if want := "00-" + server.SpanContext.TraceID + "-" + server.SpanContext.SpanID + "-01"; res.TraceParent != want {
		t.Errorf("handler saw traceparent %q, want the server span's %q", res.TraceParent, want)
	}

	for _, a := range []struct{ key, want string }{
		{"rpc.system", tracing.System},
		{"rpc.service", protocol.Service},
		{"rpc.method", "resize"},
	} {
		if got := hostAttr(client, attribute.Key(a.key)); got != a.want {
			t.Errorf("host span %s = %q, want %q", a.key, got, a.want)
		}
		if got := server.attr(a.key); got != a.want {
			t.Errorf("worker span %s = %q, want %q", a.key, got, a.want)
		}
	}
	if got := hostAttr(client, tracing.TxIDKey); got == "" || got != server.attr(string(tracing.TxIDKey)) {
		t.Errorf("txid: host span %q, worker span %q, want the same id", got, server.attr(string(tracing.TxIDKey)))
	}
}

// TestErrorRecordedWithClass checks that both spans of a failed call have
// status Error, the error's code as error.type and its fault class.
func TestErrorRecordedWithClass(t *testing.T) {
	tr := startTraced(t, tracing.Config{})
	_, err := host.Call(context.Background(), tr.w, protocol.Resize, protocol.ResizeReq{Image: "b.png", Width: 0})
	var re *shared.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("Call(Resize, width 0) = %v, want a *shared.RemoteError", err)
	}
	client := findHostSpan(t, tr.host.GetSpans(), protocol.Service+"/resize", trace.SpanKindClient)
	server := findWorkerSpan(t, tr.workerSpans(t), protocol.Service+"/resize", trace.SpanKindServer)
	if client.Status.Code != codes.Error || !strings.Contains(client.Status.Description, "not positive") {
		t.Errorf("host span status = %v %q, want Error with the worker's message", client.Status.Code, client.Status.Description)
	}
	if server.Status.Code != "Error" {
		t.Errorf("worker span status = %q, want Error", server.Status.Code)
	}
	for _, a := range []struct{ key, want string }{{"error.type", "bad_width"}, {"isolated_workers.error.class", "business"}} {
		if got := hostAttr(client, attribute.Key(a.key)); got != a.want {
			t.Errorf("host span %s = %q, want %q", a.key, got, a.want)
		}
		if got := server.attr(a.key); got != a.want {
			t.Errorf("worker span %s = %q, want %q", a.key, got, a.want)
		}
	}
	if len(client.Events) != 1 || client.Events[0].Name != "exception" {
		t.Errorf("host span events = %+v, want one exception", client.Events)
	}
}

// TestCallWithoutReplyEndsSpan checks that a call that ends in the host
// without a reply ends its client span before Call returns, with status
// Error and the error.type and class of the error the caller got: a passed
// deadline, a cancellation of a call without deadline, a worker killed in
// the middle of the call. The calls go to the library's test worker, which
// can be made to die mid-call; only the host traces.
func TestCallWithoutReplyEndsSpan(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		call      func(w *host.Worker, ctx context.Context, started <-chan string) error
		isErr     func(error) bool
		wantType  string
		wantClass string
	}{
		{
			name:   "deadline",
			method: "sleep",
			call: func(w *host.Worker, ctx context.Context, _ <-chan string) error {
				_, err := host.Call(ctx, w, testproto.Sleep.WithTimeout(20*time.Millisecond), 60_000)
				return err
			},
			isErr:     func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
			wantType:  "deadline_exceeded",
			wantClass: "transient",
		},
		{
			name:   "cancelled, no deadline",
			method: "sleep",
			call: func(w *host.Worker, ctx context.Context, started <-chan string) error {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				go func() {
					// Cancel once the handler runs; bounded, so that a
					// worker that never starts it fails the test, not
					// hangs it.
					select {
					case <-started:
					case <-time.After(30 * time.Second):
					}
					cancel()
				}()
				_, err := host.Call(ctx, w, testproto.Sleep, 60_000)
				return err
			},
			isErr:     func(err error) bool { return errors.Is(err, context.Canceled) },
			wantType:  "canceled",
			wantClass: "permanent",
		},
		{
			name:   "worker killed mid-call",
			method: "kill-self",
			call: func(w *host.Worker, ctx context.Context, _ <-chan string) error {
				_, err := host.Call(ctx, w, testproto.Kill, "")
				return err
			},
			isErr: func(err error) bool {
				var ee *host.ExitError
				return errors.As(err, &ee)
			},
			wantType:  "worker_exited",
			wantClass: "unknown",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracedHost(t)
			started := make(chan string, 1)
			w, err := host.Start(context.Background(), host.Config{
				Cmd:       exec.Command(testWorkerBin),
				Handshake: testproto.Handshake,
				// No CallTimeout: a call has only the deadline it is given.
				Middleware: []shared.Middleware{tracing.Host(tracing.Config{TracerProvider: tr.tp})},
				OnEvent: func(ev host.ReceivedEvent) {
					if id, ok, _ := host.DecodeEvent(ev, testproto.Started); ok {
						select {
						case started <- id:
						default:
						}
					}
				},
			})
			if err != nil {
				t.Fatalf("host.Start(%s): %v", testWorkerBin, err)
			}
			t.Cleanup(func() { w.Close() })

			err = tt.call(w, context.Background(), started)
			if !tt.isErr(err) {
				t.Fatalf("Call(%s) = %v, want a %s error", tt.method, err, tt.wantType)
			}
			// The exporter is synchronous: the span is there once it ended.
			spans := tr.host.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("Call(%s) returned with %d ended host spans, want its client span ended", tt.method, len(spans))
			}
			client := findHostSpan(t, spans, tt.method, trace.SpanKindClient)
			if client.Status.Code != codes.Error || client.Status.Description == "" || !strings.Contains(err.Error(), client.Status.Description) {
				t.Errorf("span status = %v %q, want Error with the call's error %q", client.Status.Code, client.Status.Description, err)
			}
			for _, a := range []struct {
				key  attribute.Key
				want string
			}{{tracing.ErrorTypeKey, tt.wantType}, {tracing.ErrorClassKey, tt.wantClass}} {
				if got := hostAttr(client, a.key); got != a.want {
					t.Errorf("span %s = %q, want %q", a.key, got, a.want)
				}
			}
		})
	}
}

// TestNoSDKInLibrary checks that the tracing package and the library's
// packages use the OpenTelemetry API only: a program that does not set up
// the SDK does not compile it in.
func TestNoSDKInLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	pkgs := []string{".", "../host", "../plugin", "../shared/...", "../examples/basic-ping/worker"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	api := false
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk") {
			t.Errorf("%s is in go list -deps %s", p, strings.Join(pkgs, " "))
		}
		api = api || p == "go.opentelemetry.io/otel/trace"
	}
	if !api {
		t.Errorf("go list -deps %s has no go.opentelemetry.io/otel/trace: is the tracing package listed?", strings.Join(pkgs, " "))
	}
}
