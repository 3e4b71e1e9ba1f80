// Command grpc is the go-plugin gRPC benchmark worker.
package main

import (
	"github.com/hashicorp/go-plugin"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/gpproto"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: gpproto.Handshake,
		Plugins:         plugin.PluginSet{gpproto.PluginName: &gpproto.GRPCPlugin{Impl: gpproto.Impl{}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
