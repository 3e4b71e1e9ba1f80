// Command worker is the bidirectional example's worker: a counter that
// keeps no state of its own. To serve Put it calls the host three times
// (Load the counter, Sum it with the delta, Store the result); to serve Get
// it calls Load. Run by hand it explains that it is a plugin and exits 1.
package main

import (
	"context"

	"github.com/isolated-workers/isolated-workers-go/examples/bidirectional/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
)

func main() {
	plugin.Serve(plugin.Config{
		Handshake: protocol.Handshake,
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Put, put),
			plugin.Handle(protocol.Get, func(ctx context.Context, key string) (int64, error) {
				return plugin.CallHost(ctx, protocol.Load, key)
			}),
		),
	})
}

// put adds req.Value to the counter, with the host's storage and the
// host's adder, as go-plugin's Counter.Put does with its AddHelper.
func put(ctx context.Context, req protocol.PutReq) (struct{}, error) {
	v, err := plugin.CallHost(ctx, protocol.Load, req.Key)
	if err != nil {
		return struct{}{}, err
	}
	sum, err := plugin.CallHost(ctx, protocol.Sum, protocol.SumReq{A: v, B: req.Value})
	if err != nil {
		return struct{}{}, err
	}
	plugin.Logger(ctx).Debug("counter updated", "key", req.Key, "value", sum)
	return plugin.CallHost(ctx, protocol.Store, protocol.StoreReq{Key: req.Key, Value: sum})
}
