// Package protocol is what the jobs host and worker share.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake of the jobs worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "JOBS_WORKER",
	MagicCookieValue: "5c1b7e",
	ProtocolVersions: []int{1},
}

// Job is one unit of work. Its fields script how the worker's pipeline
// behaves, so the demo shows every path.
type Job struct {
	ID    string `json:"id"`
	Input string `json:"input"`
	// FlakyAttempts makes the fetch action fail transiently on its first n
	// attempts; the worker's retry absorbs up to 2.
	FlakyAttempts int `json:"flakyAttempts,omitempty"`
	// Invalid makes the validate action fail permanently: never retried.
	Invalid bool `json:"invalid,omitempty"`
	// WorkMillis is how long the transform action takes.
	WorkMillis int `json:"workMillis,omitempty"`
}

// Result is a job's output.
type Result struct {
	ID     string `json:"id"`
	Output string `json:"output"`
	Worker int    `json:"workerPid"`
}

// Run runs a job's pipeline in a worker.
var Run = shared.NewMessage[Job, Result]("run-job")
