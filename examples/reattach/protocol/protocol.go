// Package protocol is what the reattach example's hosts and worker share:
// the handshake and the messages.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in hosts and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "REATTACH_EXAMPLE_WORKER",
	MagicCookieValue: "a77a-c4ed",
	ProtocolVersions: []int{1},
}

// BatchReq asks the worker to process Items items, one every EveryMillis
// ms, in the background: the work goes on after the host has gone.
type BatchReq struct {
	Items       int `json:"items"`
	EveryMillis int `json:"everyMs"`
}

// Progress is how far the worker got.
type Progress struct {
	PID  int `json:"pid"`
	Done int `json:"done"`
	Of   int `json:"of"`
}

// Messages.
var (
	StartBatch = shared.NewMessage[BatchReq, Progress]("start-batch")
	Status     = shared.NewMessage[struct{}, Progress]("status")
)
