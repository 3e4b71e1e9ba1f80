package action

import "time"

// Defaults for BreakerConfig and DeadLetterConfig; a zero field means the
// default below.
const (
	// DefaultFailureThreshold is how many consecutive failures open a
	// circuit breaker.
	DefaultFailureThreshold = 5
	// DefaultOpenTimeout is how long a breaker stays open before it lets
	// trial calls through.
	DefaultOpenTimeout = 30 * time.Second
	// DefaultHalfOpenMaxCalls is how many trial calls a half-open breaker
	// lets through; all must succeed to close it.
	DefaultHalfOpenMaxCalls = 1

	// DefaultDeadLetterMaxEntries bounds a dead-letter sink; the oldest
	// entry is dropped to make room.
	DefaultDeadLetterMaxEntries = 1000
	// DefaultDeadLetterRetention is how long an entry is kept.
	DefaultDeadLetterRetention = 7 * 24 * time.Hour
)
