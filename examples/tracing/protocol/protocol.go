// Package protocol is what the tracing example's host and worker share:
// the handshake and the message.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "TRACING_EXAMPLE_WORKER",
	MagicCookieValue: "0c7a-41d2",
	ProtocolVersions: []int{1},
}

// Service is the rpc.service both sides put on their spans.
const Service = "thumbnails"

// TraceFileEnv names a file the worker writes its spans to, one JSON object
// a line, instead of its stdout (the tests read it).
const TraceFileEnv = "TRACING_EXAMPLE_SPANS"

// ResizeReq asks the worker to resize an image.
type ResizeReq struct {
	Image string `json:"image"`
	Width int    `json:"width"`
}

// ResizeRes is the result, and the trace context the handler saw: that of
// the worker's server span.
type ResizeRes struct {
	Thumbnail   string `json:"thumbnail"`
	TraceParent string `json:"traceparent"`
}

// Messages of the worker.
var (
	// Resize fails with a business error (code "bad_width") for a width
	// that is not positive.
	Resize = shared.NewMessage[ResizeReq, ResizeRes]("resize")
	// Wait blocks until its call is cancelled or its deadline passes.
	Wait = shared.NewMessage[struct{}, struct{}]("wait")
)
