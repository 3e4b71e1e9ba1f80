package statushub

import (
	"sync"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// Subscription is one subscriber's stream of events from a Hub. Its methods
// are safe for concurrent use.
type Subscription struct {
	id     string
	hub    *Hub
	ch     chan status.Event // nil when sink is set
	sink   sink              // an internal subscriber's coalescing queue (WebSocket clients)
	filter func(status.Event) bool

	// Guarded by hub.mu:
	err     error         // set when the subscription ends
	backlog *pendingQueue // events waiting for room in ch, in order (channel subscriptions)
	moving  bool          // Hub.move is running for this subscription: it alone sends on ch
	ended   bool          // ended while moving: the mover closes ch
	halt    chan struct{} // closed when the subscription ends while moving

	moved sync.WaitGroup // the running Hub.move, if any

	stopMu sync.Mutex
	stop   func() bool // stops the context.AfterFunc registered by Subscribe
}

// ID returns the subscription's identifier, unique within its hub
// ("sub-1", "sub-2", ...). It is the ID passed to HubConfig.OnDrop.
func (s *Subscription) ID() string { return s.id }

// C returns the channel of events. It is closed when the subscription ends;
// Err then says why. Events of one job arrive in the order they were
// published.
func (s *Subscription) C() <-chan status.Event { return s.ch }

// Err returns why the subscription ended: nil while it is open or after the
// subscriber's own Close, ErrSlowSubscriber if the hub dropped it,
// ErrHubClosed if the hub was closed, or the context's error if the context
// passed to Subscribe ended.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription and closes its channel; events in the
// channel can still be drained from C, events in its backlog are discarded.
// It returns when the subscription's goroutine, if any, has ended. It is
// idempotent.
func (s *Subscription) Close() {
	s.hub.remove(s, nil)
	s.stopCtx()
	s.moved.Wait()
}

func (s *Subscription) setStop(stop func() bool) {
	s.stopMu.Lock()
	s.stop = stop
	s.stopMu.Unlock()
}

// stopCtx unregisters the context callback so a finished subscription holds
// no reference from its context.
func (s *Subscription) stopCtx() {
	s.stopMu.Lock()
	stop := s.stop
	s.stopMu.Unlock()
	if stop != nil {
		stop()
	}
}
