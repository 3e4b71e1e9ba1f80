// Command worker is the serializers example's worker. Its -serializer flag
// picks one of protocol.Serializers; without it the worker uses the
// default, JSON, so the host can show what a mismatch looks like.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/isolated-workers/isolated-workers-go/examples/serializers/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	name := flag.String("serializer", "", "serializer to use (default: the library's default, json)")
	flag.Parse()
	var ser shared.Serializer // nil means the default
	if *name != "" {
		ser = protocol.Serializers[*name]
		if ser == nil {
			fmt.Fprintf(os.Stderr, "worker: unknown serializer %q\n", *name)
			os.Exit(2)
		}
	}
	plugin.Serve(plugin.Config{
		Handshake:  protocol.Handshake,
		Serializer: ser,
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.EchoBlob, func(ctx context.Context, b protocol.Blob) (protocol.Blob, error) { return b, nil }),
			plugin.Handle(protocol.EchoRaw, func(ctx context.Context, b []byte) ([]byte, error) { return b, nil }),
		),
	})
}
