// Command iw is the isolated-workers benchmark worker: ping and echo return
// their []byte payload (sent raw by the library), ping-struct its struct
// (through the default JSON serializer).
//
// With IW_BENCH_WORKER_CPUPROFILE set, it writes its CPU profile there from
// start to exit; with IW_BENCH_WORKER_TRACE set, its runtime/trace.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"

	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/iwproto"
)

func main() {
	cfg := plugin.Config{
		Handshake: iwproto.Handshake,
		Handlers: plugin.Handlers(
			plugin.Handle(iwproto.Ping, func(_ context.Context, b []byte) ([]byte, error) { return b, nil }),
			plugin.Handle(iwproto.PingStruct, func(_ context.Context, t iwproto.Text) (iwproto.Text, error) { return t, nil }),
			plugin.Handle(iwproto.Echo, func(_ context.Context, b []byte) ([]byte, error) { return b, nil }),
		),
	}
	prof, tr := os.Getenv(iwproto.CPUProfileEnv), os.Getenv(iwproto.TraceEnv)
	if prof == "" && tr == "" {
		plugin.Serve(cfg)
		return
	}
	os.Exit(serveProfiled(cfg, prof, tr))
}

// serveProfiled is plugin.Serve with a CPU profile or an execution trace
// (or both) around it.
func serveProfiled(cfg plugin.Config, prof, tr string) int {
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if tr != "" {
		f, err := os.Create(tr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		defer trace.Stop()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := plugin.ServeContext(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}
