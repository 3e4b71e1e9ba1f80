// Package protocol is what the basic-ping host and worker share: the
// handshake and the message definitions.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "BASIC_PING_WORKER",
	MagicCookieValue: "d2f1c0de",
	ProtocolVersions: []int{1},
}

// PingReq asks the worker to answer.
type PingReq struct {
	Message string `json:"message"`
}

// PingRes is the worker's answer.
type PingRes struct {
	Message  string `json:"message"`
	WorkerID int    `json:"workerPid"`
}

// Messages.
var (
	Ping  = shared.NewMessage[PingReq, PingRes]("ping")
	Echo  = shared.NewMessage[[]byte, []byte]("echo")
	Sleep = shared.NewMessage[int, string]("sleep") // sleeps n ms, honouring cancellation
	Fail  = shared.NewMessage[string, string]("fail")
	Crash = shared.NewMessage[int, string]("crash") // exits with status n
	Panic = shared.NewMessage[string, string]("panic")
)
