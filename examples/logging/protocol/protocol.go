// Package protocol is what the logging example's host and worker share:
// the handshake and the messages, with their timeouts.
package protocol

import (
	"time"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "LOGGING_EXAMPLE_WORKER",
	MagicCookieValue: "1066-e4a1",
	ProtocolVersions: []int{1},
}

// ResizeReq asks the worker to resize an image (pretend).
type ResizeReq struct {
	JobID string `json:"jobId"`
	Width int    `json:"width"`
}

// Messages.
var (
	// Resize logs at every level, with fields, so the host can show which
	// records cross and how they arrive.
	Resize = shared.NewMessage[ResizeReq, string]("resize")

	// Sleep sleeps n ms. It has no timeout of its own, so its calls get
	// the host's CallTimeout.
	Sleep = shared.NewMessage[int, string]("sleep")
	// SleepPatiently is the same message with a timeout of its own, which
	// overrides CallTimeout: for calls known to be slow.
	SleepPatiently = Sleep.WithTimeout(2 * time.Second)
	// SleepUnbounded opts out of any timeout: zero means none, never "time
	// out at once". The caller's context still applies.
	SleepUnbounded = Sleep.WithTimeout(0)
)
