// Command worker is the basic-ping worker plugin. Its host starts it; run by
// hand it explains that and exits 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/basic-ping/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
)

func main() {
	fmt.Println("worker: printing to stdout cannot break the handshake")
	plugin.Serve(plugin.Config{
		Handshake: protocol.Handshake,
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Ping, func(ctx context.Context, req protocol.PingReq) (protocol.PingRes, error) {
				plugin.Logger(ctx).Info("ping received", "message", req.Message)
				return protocol.PingRes{Message: "pong: " + req.Message, WorkerID: os.Getpid()}, nil
			}),
			plugin.Handle(protocol.Echo, func(ctx context.Context, b []byte) ([]byte, error) { return b, nil }),
			plugin.Handle(protocol.Sleep, func(ctx context.Context, ms int) (string, error) {
				select {
				case <-time.After(time.Duration(ms) * time.Millisecond):
					return "slept", nil
				case <-ctx.Done():
					plugin.Logger(ctx).Info("sleep cancelled by the host")
					return "", ctx.Err()
				}
			}),
			plugin.Handle(protocol.Fail, func(ctx context.Context, msg string) (string, error) {
				return "", errors.New(msg)
			}),
			plugin.Handle(protocol.Crash, func(ctx context.Context, code int) (string, error) {
				fmt.Fprintln(os.Stderr, "worker: crashing on purpose")
				os.Exit(code)
				return "", nil
			}),
			plugin.Handle(protocol.Panic, func(ctx context.Context, msg string) (string, error) {
				panic(msg)
			}),
		),
	})
}
