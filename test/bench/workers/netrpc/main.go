// Command netrpc is the go-plugin net/rpc benchmark worker.
package main

import (
	"github.com/hashicorp/go-plugin"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/gpproto"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: gpproto.Handshake,
		Plugins:         plugin.PluginSet{gpproto.PluginName: &gpproto.NetRPCPlugin{Impl: gpproto.Impl{}}},
	})
}
