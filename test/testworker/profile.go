package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/isolated-workers/isolated-workers-go/plugin"
)

// serveProfiled serves with a CPU profile written to path, for benchmarks.
func serveProfiled(cfg plugin.Config, path string) int {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pprof.StartCPUProfile(f)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err = plugin.ServeContext(ctx, cfg)
	stop()
	pprof.StopCPUProfile()
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
