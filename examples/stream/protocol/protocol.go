// Package protocol is what the stream example's host and worker share: the
// handshake, the stream of lines and its events.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "STREAM_EXAMPLE_WORKER",
	MagicCookieValue: "5e1f-77a0",
	ProtocolVersions: []int{1},
}

// LinesReq asks the worker to generate a file of Lines lines and stream
// them back.
type LinesReq struct {
	Lines int `json:"lines"`
	// ProgressEvery is how many lines pass between two Progress events.
	ProgressEvery int `json:"progressEvery"`
}

// Line is one line of the file.
type Line struct {
	N    int    `json:"n"` // from 1
	Text string `json:"text"`
}

// Progress says how far the worker is.
type Progress struct {
	Sent  int `json:"sent"`
	Total int `json:"total"`
}

// Summary is what the worker read: the number of lines and the SHA-256 of
// the file, in hex. The worker emits it after the last line.
type Summary struct {
	Lines  int    `json:"lines"`
	SHA256 string `json:"sha256"`
}

// Streams, messages and events.
var (
	// Lines generates the file and streams its lines.
	Lines = shared.NewStream[LinesReq, Line]("lines")
	// Cancelled waits until a Lines stream was cancelled by its host and
	// returns how many lines it had sent.
	Cancelled = shared.NewMessage[string, int]("cancelled")

	ProgressEvent = shared.NewEvent[Progress]("progress")
	SummaryEvent  = shared.NewEvent[Summary]("summary")
)
