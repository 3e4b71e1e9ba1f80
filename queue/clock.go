package queue

import (
	"context"
	"time"
)

// timeLeft returns the time until ctx's deadline (Open always sets one).
func timeLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return DefaultStartTimeout
}
