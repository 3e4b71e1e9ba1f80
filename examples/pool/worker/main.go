// Command worker is the pool example's worker plugin. Its host starts four
// of them in a pool; run by hand it explains that and exits 1.
package main

import (
	"cmp"
	"context"
	"os"

	"github.com/isolated-workers/isolated-workers-go/examples/pool/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
)

func main() {
	version := cmp.Or(os.Getenv(protocol.VersionEnv), "v1")
	plugin.Serve(plugin.Config{
		Handshake: protocol.Handshake,
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Work, func(ctx context.Context, req protocol.WorkReq) (protocol.WorkRes, error) {
				return protocol.WorkRes{N: req.N, Hash: protocol.Hash(req.N), Version: version, PID: os.Getpid()}, nil
			}),
		),
	})
}
