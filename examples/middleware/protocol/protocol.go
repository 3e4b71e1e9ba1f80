// Package protocol is what the middleware example's host and worker share:
// the handshake, the message, and the header names their middleware use.
package protocol

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "MIDDLEWARE_EXAMPLE_WORKER",
	MagicCookieValue: "5e1f-a0d1",
	ProtocolVersions: []int{1},
}

// Headers the middleware of both sides read and write.
const (
	// AuthHeader carries the credential the worker's middleware checks.
	AuthHeader = "authorization"
	// HostVia lists the host middleware a request passed, in order; the
	// worker echoes it back in GreetRes.HostVia.
	HostVia = "x-host-via"
	// WorkerVia lists the worker middleware a reply passed, in order.
	WorkerVia = "x-worker-via"
)

// Token is the credential the host sends and the worker accepts. A real
// worker would read it from its environment or a secret store.
const Token = "Bearer example-token"

// GreetReq asks the worker to greet someone.
type GreetReq struct {
	Name string `json:"name"`
}

// GreetRes is the worker's greeting and what the handler saw.
type GreetRes struct {
	Greeting    string `json:"greeting"`
	HostVia     string `json:"hostVia"`     // the x-host-via header as it reached the handler
	TraceParent string `json:"traceParent"` // the traceparent as it reached the handler
}

// Greet is the one message of this example.
var Greet = shared.NewMessage[GreetReq, GreetRes]("greet")
