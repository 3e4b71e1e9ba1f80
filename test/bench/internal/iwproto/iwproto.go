// Package iwproto is what the isolated-workers benchmark worker and its host
// share: the handshake and the message definitions. It imports only the
// library, so the worker binary links nothing of go-plugin or gRPC.
package iwproto

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "IW_BENCH_WORKER",
	MagicCookieValue: "5be1c4a7-iw",
	ProtocolVersions: []int{1},
}

// Text is the small struct of the struct round trip: one string field,
// encoded by the default JSON serializer.
type Text struct {
	Msg string `json:"m"`
}

// Messages. Ping and Echo carry []byte, which the library sends raw (never
// through the serializer); PingStruct goes through the JSON serializer.
var (
	Ping       = shared.NewMessage[[]byte, []byte]("ping")
	PingStruct = shared.NewMessage[Text, Text]("ping-struct")
	Echo       = shared.NewMessage[[]byte, []byte]("echo")
)

// CPUProfileEnv, when set in the worker's environment, names a file the
// worker writes its own CPU profile to, from start to exit.
const CPUProfileEnv = "IW_BENCH_WORKER_CPUPROFILE"

// TraceEnv, when set in the worker's environment, names a file the worker
// writes its runtime/trace execution trace to, from start to exit.
const TraceEnv = "IW_BENCH_WORKER_TRACE"
