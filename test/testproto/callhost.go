package testproto

import "github.com/isolated-workers/isolated-workers-go/shared"

// HostReq asks the test worker's CallHost handler to call the host.
type HostReq struct {
	// Op: "add" calls HostAdd with N; "fail" calls HostFail; "unknown"
	// calls HostUnknown, which hosts do not serve; "block" calls HostBlock
	// with the handler's context; "give-up" calls HostBlock with a context
	// that ends after N ms (the worker gives up on the host).
	Op string `json:"op"`
	N  int    `json:"n"`
}

// Messages a worker calls on the host (host.Config.Handlers), and the
// worker's messages that call them.
var (
	// CallHost makes the worker call the host as HostReq says and returns
	// what the host answered (or the host's error).
	CallHost = shared.NewMessage[HostReq, string]("call-host")
	// Nest n: the worker answers "w0" for 0, else calls HostNest n-1 on the
	// host and answers "w<n>(<host's answer>)".
	Nest = shared.NewMessage[int, string]("nest")

	HostAdd     = shared.NewMessage[int, int]("host-add")
	HostFail    = shared.NewMessage[int, string]("host-fail")
	HostBlock   = shared.NewMessage[int, string]("host-block")
	HostUnknown = shared.NewMessage[int, string]("host-unknown")
	// HostNest n: the host answers "h0" for 0, else calls Nest n-1 on the
	// worker that called it and answers "h<n>(<worker's answer>)".
	HostNest = shared.NewMessage[int, string]("host-nest")
)
