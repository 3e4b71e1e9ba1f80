package rawproto

import (
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// YamuxConfig is the raw-mux floor's yamux session configuration, both
// sides: the settings isolated-workers uses (internal/wire.YamuxConfig),
// written out here so the floor is "the same multiplexer, nothing else".
func YamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = 1024
	c.MaxStreamWindowSize = 16 << 20
	c.EnableKeepAlive = false
	c.ConnectionWriteTimeout = 365 * 24 * time.Hour
	c.LogOutput = io.Discard
	return c
}
