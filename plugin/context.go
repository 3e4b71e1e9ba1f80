package plugin

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
)

// callFrom returns the call of a handler's context and its connection, or
// nil.
func callFrom(ctx context.Context) (*peer.Info, *hostConn) {
	ci := peer.CallInfo(ctx)
	if ci == nil {
		return nil, nil
	}
	c, ok := ci.Conn.Owner().(*hostConn)
	if !ok {
		return nil, nil
	}
	return ci, c
}

// TxID returns the transaction id of the call a handler's context belongs
// to, or "".
func TxID(ctx context.Context) string {
	if ci, _ := callFrom(ctx); ci != nil {
		return ci.TxID
	}
	return ""
}

// ProtocolVersion returns the negotiated protocol version inside a handler,
// or 0.
func ProtocolVersion(ctx context.Context) int {
	if _, c := callFrom(ctx); c != nil {
		return c.s.version
	}
	return 0
}

// Logger returns the worker's logger inside a handler and its middleware
// (its records reach the host's logger), or a null logger elsewhere (no
// call, so no host to send the records to). Inside a handler,
// hclog.FromContext(ctx) returns the same logger.
func Logger(ctx context.Context) hclog.Logger {
	if _, c := callFrom(ctx); c != nil {
		return c.s.logger
	}
	return hclog.NewNullLogger()
}
