package statushub

import "time"

// Defaults for the status hub and its WebSocket endpoint, in one place. A zero
// field in HubConfig or EndpointConfig means the default below. The retry
// defaults (attempts, base and max delay, jitter) live with the retry policy in
// package shared/retry, not here.
const (
	// DefaultSubscriberBuffer is the capacity of a Subscription's channel,
	// and how many events a subscriber (a WebSocket client too) may have
	// waiting beyond it before they coalesce to the latest event per job
	// (HubConfig.SubscriberBuffer).
	DefaultSubscriberBuffer = 256

	// DefaultStallTimeout is how long a Subscription may leave an event
	// untaken with its channel full before the hub disconnects it as slow
	// (HubConfig.StallTimeout). A reading subscriber takes an event at once;
	// 5 s tolerates a busy process without holding a dead subscriber's
	// backlog for long.
	DefaultStallTimeout = 5 * time.Second

	// DefaultMaxJobs bounds the hub's per-job snapshot: when more jobs than
	// this are known, the job updated least recently is forgotten
	// (HubConfig.MaxJobs). It also bounds how many distinct jobs a WebSocket
	// client may have waiting in its coalescing queue before it is dropped as
	// too slow.
	DefaultMaxJobs = 10000

	// DefaultMaxClients is how many WebSocket clients may be connected at once;
	// further connection attempts get HTTP 503 (EndpointConfig.MaxClients).
	DefaultMaxClients = 64

	// DefaultRatePerSecond is the sustained number of messages per second sent
	// to one WebSocket client (EndpointConfig.RatePerSecond). Events beyond it
	// are coalesced: only the latest event of each job is kept and sent when
	// the budget allows.
	DefaultRatePerSecond = 200.0

	// DefaultBurst is how many messages a WebSocket client may receive at once
	// above the sustained rate, after a quiet period (EndpointConfig.Burst).
	DefaultBurst = 100

	// DefaultWriteTimeout is how long a WebSocket client may leave a message
	// untaken: a client that has stopped reading for this long is
	// disconnected and counted as slow (EndpointConfig.WriteTimeout). A
	// reading client takes a small message at once, so 5 s leaves room for a
	// busy browser tab or a stalled network without keeping a dead client's
	// connection for long.
	DefaultWriteTimeout = 5 * time.Second
)
