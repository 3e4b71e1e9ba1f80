// Package protocol is what the reconnect example's host and worker share:
// the handshake and the messages.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "RECONNECT_EXAMPLE_WORKER",
	MagicCookieValue: "2ec0-4ec7",
	ProtocolVersions: []int{1},
}

// Count is how many calls the worker process has served.
type Count struct {
	PID   int `json:"pid"`
	Calls int `json:"calls"`
}

// Messages.
var (
	// Increment counts a call; the count lives in the worker process, so
	// it shows whether a reconnected host talks to the same process.
	Increment = shared.NewMessage[struct{}, Count]("increment")
	// Sleep sleeps n ms, or until the call is cancelled or the host goes.
	Sleep = shared.NewMessage[int, string]("sleep")
)

// SleepStarted is emitted when a Sleep call starts in the worker, so the
// host knows the call is in flight without guessing how long that takes.
var SleepStarted = shared.NewEvent[struct{}]("sleep-started")
