// Package protocol is what the pool example's host and worker share: the
// handshake and the message definitions.
package protocol

import (
	"hash/fnv"
	"strconv"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "POOL_EXAMPLE_WORKER",
	MagicCookieValue: "5b0c9a11",
	ProtocolVersions: []int{1},
}

// VersionEnv names the environment variable that gives a worker its
// release ("v1" when unset): the example upgrades its pool from v1 to v2
// by starting the same binary with VersionEnv=v2.
const VersionEnv = "POOL_EXAMPLE_VERSION"

// WorkReq is a piece of work: hash N.
type WorkReq struct {
	N int `json:"n"`
}

// WorkRes is its result, and which worker computed it.
type WorkRes struct {
	N       int    `json:"n"`
	Hash    uint64 `json:"hash"`
	Version string `json:"version"`
	PID     int    `json:"pid"`
}

// Work is idempotent (the same N always hashes the same), so a call whose
// worker dies under it may safely run again on another worker: the pool
// re-sends it up to 3 times (WithCrashRetry).
var Work = shared.NewMessage[WorkReq, WorkRes]("work").WithCrashRetry(3)

// Hash is what Work computes for n; the host checks every reply with it.
func Hash(n int) uint64 {
	h := fnv.New64a()
	// A little CPU per call, so that calls overlap a kill.
	for i := range 2000 {
		h.Write(strconv.AppendInt(nil, int64(n+i), 10))
	}
	return h.Sum64()
}
