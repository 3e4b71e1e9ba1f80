package handshakewire

// Control is one JSON line on the control stream after the hello.
type Control struct {
	Op     string `json:"op"`
	Reason string `json:"reason,omitempty"`
}

// Control operations.
const (
	// OpShutdown (host to worker): stop serving and exit. In-flight
	// handlers are cancelled.
	OpShutdown = "shutdown"
	// OpGoodbye (either way): the sender is closing this connection. From
	// the host it means "disconnecting"; the worker then exits or waits for
	// a new host, per its DisconnectBehavior. From the worker it means the
	// worker is stopping; Reason says why.
	OpGoodbye = "goodbye"
)
