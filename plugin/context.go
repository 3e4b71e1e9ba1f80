package plugin

import (
	"context"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

type callKey struct{}

type callInfo struct {
	conn    *hostConn
	txID    string
	msgType string
	headers map[string]string
	events  atomic.Int64 // events the handler queued; the reply carries the count
}

// callCtx is a handler's context: the call's information travels in the
// same allocation as the context that carries it.
type callCtx struct {
	context.Context
	callInfo
}

func (c *callCtx) Value(key any) any {
	if key == (callKey{}) {
		return &c.callInfo
	}
	return c.Context.Value(key)
}

func callFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callKey{}).(*callInfo)
	return ci
}

// TxID returns the transaction id of the call a handler's context belongs
// to, or "".
func TxID(ctx context.Context) string {
	if ci := callFrom(ctx); ci != nil {
		return ci.txID
	}
	return ""
}

// ProtocolVersion returns the negotiated protocol version inside a handler,
// or 0.
func ProtocolVersion(ctx context.Context) int {
	if ci := callFrom(ctx); ci != nil {
		return ci.conn.s.version
	}
	return 0
}

// Logger returns the worker's logger inside a handler (its records reach
// the host's logger), or a null logger elsewhere. hclog.FromContext(ctx)
// returns the same logger.
func Logger(ctx context.Context) hclog.Logger {
	return hclog.FromContext(ctx)
}

func hclogLevel(s string) hclog.Level { return hclog.LevelFromString(s) }
