// Command worker is the reattach example's worker: a keep-alive worker
// that processes a batch in the background, so it has work to do, and
// records to log, while no host is connected.
package main

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/reattach/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	var b batch
	plugin.Serve(plugin.Config{
		Handshake: protocol.Handshake,
		// KeepAlive: when the host goes away, wait for another one
		// (host.Attach) instead of exiting.
		DisconnectBehavior: plugin.KeepAlive,
		// ...but not forever: if no host comes back within 10 s, exit
		// cleanly, so a host that crashed leaves no orphan behind for long.
		HostConnectTimeout: shared.Duration(10 * time.Second),
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.StartBatch, func(ctx context.Context, req protocol.BatchReq) (protocol.Progress, error) {
				// The handler's context ends with the call; the batch must
				// not. plugin.Logger's records are kept while no host is
				// connected and delivered to the next one.
				b.start(req.Items)
				go b.run(context.WithoutCancel(ctx), req)
				return b.progress(), nil
			}),
			plugin.Handle(protocol.Status, func(ctx context.Context, _ struct{}) (protocol.Progress, error) {
				return b.progress(), nil
			}),
		),
	})
}

// batch is the worker's background work. Its state outlives any one host.
type batch struct {
	mu       sync.Mutex
	done, of int
}

func (b *batch) start(items int) {
	b.mu.Lock()
	b.done, b.of = 0, items
	b.mu.Unlock()
}

func (b *batch) run(ctx context.Context, req protocol.BatchReq) {
	log := plugin.Logger(ctx)
	for i := 1; i <= req.Items; i++ {
		time.Sleep(time.Duration(req.EveryMillis) * time.Millisecond)
		b.mu.Lock()
		b.done = i
		b.mu.Unlock()
		log.Info("processed item", "item", i, "of", req.Items)
	}
	log.Info("batch done")
}

func (b *batch) progress() protocol.Progress {
	b.mu.Lock()
	defer b.mu.Unlock()
	return protocol.Progress{PID: os.Getpid(), Done: b.done, Of: b.of}
}
