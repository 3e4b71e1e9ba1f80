// Package protocol is what the bidirectional host and worker share: the
// handshake, the messages the host calls on the worker, and the messages
// the worker calls back on the host.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "BIDIRECTIONAL_WORKER",
	MagicCookieValue: "c0a7e4",
	ProtocolVersions: []int{1},
}

// PutReq adds Value to the counter Key.
type PutReq struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// SumReq asks the host to add two numbers (go-plugin's AddHelper.Sum).
type SumReq struct {
	A int64 `json:"a"`
	B int64 `json:"b"`
}

// StoreReq sets the counter Key to Value in the host's storage.
type StoreReq struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// The worker's messages: the counter (go-plugin's Counter interface).
var (
	Put = shared.NewMessage[PutReq, struct{}]("counter.put")
	Get = shared.NewMessage[string, int64]("counter.get")
)

// The host's messages, which the worker calls (plugin.CallHost) while it
// serves Put and Get: the counter's storage lives in the host.
var (
	Sum   = shared.NewMessage[SumReq, int64]("host.sum")
	Load  = shared.NewMessage[string, int64]("host.load")
	Store = shared.NewMessage[StoreReq, struct{}]("host.store")
)
