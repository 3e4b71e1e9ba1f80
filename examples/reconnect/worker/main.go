// Command worker is the reconnect example's worker. -keep-alive makes it
// wait for its host to come back after a disconnect, for at most
// -host-connect-timeout; without it the worker exits when its host
// disconnects (the default).
package main

import (
	"context"
	"flag"
	"os"
	"sync/atomic"
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/reconnect/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	keepAlive := flag.Bool("keep-alive", false, "wait for the host to reconnect instead of exiting")
	hostTimeout := flag.Duration("host-connect-timeout", 30*time.Second, "how long to wait for a host (0: forever)")
	flag.Parse()

	behavior := plugin.ExitOnDisconnect
	if *keepAlive {
		behavior = plugin.KeepAlive
	}
	var calls atomic.Int64
	plugin.Serve(plugin.Config{
		Handshake:          protocol.Handshake,
		DisconnectBehavior: behavior,
		// Bounds the wait for a host at start-up and, with KeepAlive, after
		// each disconnect; then the worker exits with status 0.
		HostConnectTimeout: shared.Duration(*hostTimeout),
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Increment, func(ctx context.Context, _ struct{}) (protocol.Count, error) {
				return protocol.Count{PID: os.Getpid(), Calls: int(calls.Add(1))}, nil
			}),
			plugin.Handle(protocol.Sleep, func(ctx context.Context, ms int) (string, error) {
				plugin.Emit(ctx, protocol.SleepStarted, struct{}{})
				select {
				case <-time.After(time.Duration(ms) * time.Millisecond):
					return "slept", nil
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}),
		),
	})
}
