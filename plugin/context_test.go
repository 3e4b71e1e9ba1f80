package plugin

import (
	"context"
	"testing"
)

// TestLoggerOutsideHandlerDiscards: outside a handler, Logger returns a
// null logger, as its doc says, not hclog's default logger.
func TestLoggerOutsideHandlerDiscards(t *testing.T) {
	for _, ctx := range []context.Context{context.Background(), context.TODO()} {
		if l := Logger(ctx); l.IsError() {
			t.Errorf("Logger(%v) = a logger that logs errors, want a null logger", ctx)
		}
	}
}
