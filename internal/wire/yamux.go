package wire

import (
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// NoWriteTimeout is the yamux ConnectionWriteTimeout both sides use: in
// effect none. yamux applies that timeout to every frame it queues and to
// the answer of its keepalive ping, and a frame that timed out may still go
// out later, so a timeout would either kill a healthy session whose peer is
// merely slow (stopped, starved of CPU, swapped out) or corrupt its
// framing. Over a private Unix socket a dead peer is seen at once: the
// kernel closes its end, so reads end with EOF and writes fail. A host also
// sees its worker's exit. Callers bound their own waits with their contexts
// (see Sender).
const NoWriteTimeout = 365 * 24 * time.Hour

// YamuxConfig is the session configuration both sides use. The larger
// stream window lets a large payload flow without waiting for window
// updates every 256 KiB. Keepalive pings are off: a ping that is not
// answered in time proves only that the peer is slow (see NoWriteTimeout).
func YamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = 1024
	c.MaxStreamWindowSize = 16 << 20
	c.EnableKeepAlive = false
	c.ConnectionWriteTimeout = NoWriteTimeout
	c.LogOutput = io.Discard
	return c
}

// RawStallTimeout is how long a reader waits for the next byte of a raw
// payload it has started to read (both sides, on the calls and bulk
// streams). A peer that announces a raw payload and stops sending it
// makes that call fail after this long, with an error wrapping
// shared.ErrBodyStalled; the stream is then out of step, so the
// connection ends. It is long enough for a peer that is alive but starved
// of CPU, or stopped for a while (SIGSTOP), to resume.
const RawStallTimeout = 60 * time.Second

// LargeThreshold is the payload size from which a raw payload travels on
// the bulk stream instead of the calls stream, so it does not hold up small
// calls. One long-lived bulk stream per connection keeps yamux's receive
// buffer warm: on these machines it moved 1 MiB echoes at about 2 GB/s,
// against 360-790 MB/s for a new stream per payload.
const LargeThreshold = 64 << 10
