package tracing_test

import (
	"os/exec"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/tracing"
)

// A host puts tracing.Host first in its chain. With a zero Config it uses
// the global TracerProvider (otel.SetTracerProvider) and sends W3C Trace
// Context; Service names the spans "resizer/METHOD".
func ExampleHost() {
	cfg := host.Config{
		Cmd:        exec.Command("bin/resizer"),
		Middleware: []shared.Middleware{tracing.Host(tracing.Config{Service: "resizer"})},
	}
	_ = cfg // host.Start(ctx, cfg)
}

// A worker puts tracing.Worker first in its chain; a handler that starts
// spans of its own parents them on the call's server span with Extract.
func ExampleWorker() {
	cfg := plugin.Config{
		Middleware: []shared.Middleware{tracing.Worker(tracing.Config{Service: "resizer"})},
	}
	_ = cfg // plugin.Serve(cfg)
}
