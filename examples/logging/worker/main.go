// Command worker is the logging example's worker. It sets no logger: its
// records travel to the host, which logs them under a sub-logger named
// after the worker, at the level the host chose.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/logging/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
)

func main() {
	plugin.Serve(plugin.Config{
		Handshake: protocol.Handshake,
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Resize, func(ctx context.Context, req protocol.ResizeReq) (string, error) {
				// Fields given With or per record travel with the record; a
				// Named logger extends the worker's name on the host.
				log := plugin.Logger(ctx).Named("resize").With("job_id", req.JobID)
				log.Debug("decoding image", "bytes", 48213) // below the host's level: dropped in the worker
				log.Info("resized", "width", req.Width, "took_ms", 12)
				log.Warn("image has no colour profile; assuming sRGB")
				// Plain stderr output is captured too, a line at a time.
				fmt.Fprintln(os.Stderr, "libfake: deprecated option ignored")
				return fmt.Sprintf("%s resized to %dpx", req.JobID, req.Width), nil
			}),
			plugin.Handle(protocol.Sleep, func(ctx context.Context, ms int) (string, error) {
				select {
				case <-time.After(time.Duration(ms) * time.Millisecond):
					return fmt.Sprintf("slept %d ms", ms), nil
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}),
		),
	})
}
