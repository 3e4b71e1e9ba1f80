package statushub

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// HubConfig configures a Hub. The zero value is valid: every zero field means
// the default documented in defaults.go.
type HubConfig struct {
	// SubscriberBuffer is the capacity of each Subscription's channel, and
	// how many events a subscriber may have waiting beyond it before they
	// coalesce to the latest event of each job (a waiting COMPLETED or
	// FAILED is never replaced by a non-terminal event). A subscriber that
	// reads is never disconnected for a burst. For a WebSocket client
	// (NewEndpoint) it is how many events may wait before its queue
	// coalesces. Default DefaultSubscriberBuffer (256).
	SubscriberBuffer int

	// StallTimeout is how long a Subscription may leave an event untaken
	// while its channel is full: a subscriber that has stopped reading for
	// this long is disconnected (Err returns ErrSlowSubscriber, counted in
	// HubStats.Dropped, reported to OnDrop). Default DefaultStallTimeout
	// (5s). WebSocket clients have their own limit,
	// EndpointConfig.WriteTimeout.
	StallTimeout time.Duration

	// MaxJobs bounds the per-job snapshot returned by Hub.Snapshot; the job
	// updated least recently is evicted first. Default DefaultMaxJobs (10000).
	MaxJobs int

	// Logger receives a warning for every dropped subscriber. Default: a
	// logger that discards everything.
	Logger hclog.Logger

	// OnDrop, if set, is called once for every subscription the hub
	// disconnects because it was too slow, with the subscription's ID and a
	// human-readable reason. It runs without the hub's lock, on the goroutine
	// that called Publish (too many jobs waiting) or on the subscription's
	// own goroutine (StallTimeout), so it must return quickly; it may call
	// Hub and Subscription methods other than Hub.Close.
	OnDrop func(subscriberID string, reason string)
}

// Validate reports whether c is usable. Errors wrap ErrInvalidConfig.
func (c HubConfig) Validate() error {
	if c.SubscriberBuffer < 0 {
		return fmt.Errorf("status hub config: SubscriberBuffer is %d, want >= 0 (0 means %d): %w",
			c.SubscriberBuffer, DefaultSubscriberBuffer, ErrInvalidConfig)
	}
	if c.MaxJobs < 0 {
		return fmt.Errorf("status hub config: MaxJobs is %d, want >= 0 (0 means %d): %w",
			c.MaxJobs, DefaultMaxJobs, ErrInvalidConfig)
	}
	if c.StallTimeout < 0 {
		return fmt.Errorf("status hub config: StallTimeout is %v, want >= 0 (0 means %v): %w",
			c.StallTimeout, DefaultStallTimeout, ErrInvalidConfig)
	}
	return nil
}

func (c HubConfig) withDefaults() HubConfig {
	if c.SubscriberBuffer == 0 {
		c.SubscriberBuffer = DefaultSubscriberBuffer
	}
	if c.MaxJobs == 0 {
		c.MaxJobs = DefaultMaxJobs
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// HubStats is a point-in-time view of a Hub's counters.
type HubStats struct {
	// Published counts events accepted by Publish (before Close).
	Published uint64
	// Delivered counts events placed in a subscriber's channel or queue; one
	// event delivered to three subscribers counts three.
	Delivered uint64
	// Coalesced counts events a Subscription never received because a later
	// event of the same job replaced them while they waited (WebSocket
	// clients count theirs in EndpointStats.Coalesced).
	Coalesced uint64
	// Dropped counts subscriptions disconnected because they were too slow:
	// they stopped reading for StallTimeout, or more than MaxJobs jobs were
	// waiting for them.
	Dropped uint64
	// Subscribers is the number of open subscriptions.
	Subscribers int
}

// Hub fans status events out to subscribers without ever blocking the
// publisher, and keeps the latest event of each job so that late subscribers
// can catch up. See the package documentation for the concurrency contract.
type Hub struct {
	cfg HubConfig

	mu     sync.Mutex // guards everything below, and closing subscription channels
	subs   map[*Subscription]struct{}
	jobs   *jobTable
	closed bool

	movers sync.WaitGroup // one per running Subscription.move

	nextID    atomic.Uint64
	published atomic.Uint64
	delivered atomic.Uint64
	coalesced atomic.Uint64
	dropped   atomic.Uint64
}

var _ status.Publisher = (*Hub)(nil)

// NewHub returns a Hub configured by cfg, or an error wrapping
// ErrInvalidConfig.
func NewHub(cfg HubConfig) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Hub{
		cfg:  cfg,
		subs: make(map[*Subscription]struct{}),
		jobs: newJobTable(cfg.MaxJobs),
	}, nil
}

// Publish records ev in the snapshot and hands it to every subscription whose
// filter accepts it. It never waits for a subscriber: when a subscription's
// channel is full, ev waits in the subscription's backlog, which a goroutine
// of the subscription's moves into the channel as the subscriber reads, and
// which coalesces to the latest event of each job beyond SubscriberBuffer
// events. Publish after Close does nothing.
//
// The hub keeps ev, including its Headers map and Data slice, and shares it
// with all subscribers: do not modify them after Publish.
func (h *Hub) Publish(ev status.Event) {
	var slow []*Subscription
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.published.Add(1)
	h.jobs.put(ev)
	for s := range h.subs {
		if s.filter != nil && !s.filter(ev) {
			continue
		}
		h.delivered.Add(1)
		if s.sink != nil {
			// A WebSocket client's queue: it coalesces instead of filling up.
			s.sink.put(ev)
			continue
		}
		if !s.moving {
			select {
			case s.ch <- ev:
				continue
			default:
			}
			// The channel is full: from now until the backlog is empty,
			// events queue behind it, in order.
			s.moving = true
			s.halt = make(chan struct{})
			h.movers.Add(1)
			s.moved.Add(1)
			go h.move(s)
		}
		if s.backlog.put(ev) {
			h.coalesced.Add(1)
		}
		if s.backlog.len() > h.cfg.SubscriberBuffer {
			h.coalesced.Add(uint64(s.backlog.compact()))
			if s.backlog.len() > h.cfg.MaxJobs {
				h.removeLocked(s, ErrSlowSubscriber)
				slow = append(slow, s)
			}
		}
	}
	h.mu.Unlock()

	for _, s := range slow {
		h.dropSlow(s, fmt.Sprintf("more than %d jobs were waiting for it (HubConfig.MaxJobs)", h.cfg.MaxJobs))
	}
}

// move feeds s's channel from its backlog until the backlog is empty or the
// subscription ends, and disconnects the subscription if its reader takes
// nothing for StallTimeout. While it runs it is the only sender on s.ch, and
// it closes s.ch if the subscription ends meanwhile.
func (h *Hub) move(s *Subscription) {
	var dropped string // why the subscription was dropped, if it was
	defer func() {
		s.moved.Done() // first: OnDrop may call the subscription's Close
		if dropped != "" {
			h.dropSlow(s, dropped)
		}
		h.movers.Done()
	}()
	timer := time.NewTimer(h.cfg.StallTimeout)
	defer timer.Stop()
	for {
		h.mu.Lock()
		if s.ended {
			s.moving = false
			close(s.ch)
			h.mu.Unlock()
			return
		}
		ev, ok := s.backlog.pop()
		if !ok {
			s.moving = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()

		timer.Reset(h.cfg.StallTimeout)
		select {
		case s.ch <- ev:
		case <-s.halt:
			// Ended: the next round closes the channel.
		case <-timer.C:
			h.mu.Lock()
			if _, open := h.subs[s]; open {
				h.removeLocked(s, ErrSlowSubscriber)
				dropped = fmt.Sprintf("it took no event for %v with its channel of %d full (HubConfig.StallTimeout)",
					h.cfg.StallTimeout, cap(s.ch))
			}
			h.mu.Unlock()
		}
	}
}

// dropSlow counts, logs and reports a subscription the hub has just removed
// as slow. It runs without the hub's lock.
func (h *Hub) dropSlow(s *Subscription, reason string) {
	h.dropped.Add(1)
	s.stopCtx()
	h.cfg.Logger.Warn("dropped slow status subscriber", "subscriber", s.id, "reason", reason)
	if h.cfg.OnDrop != nil {
		h.cfg.OnDrop(s.id, reason)
	}
}

// Subscribe returns a Subscription that receives every later event for which
// filter returns true; a nil filter accepts every event. The subscription
// ends when ctx is done (Err then returns ctx's error), when Close is called,
// when the hub drops it as slow, or when the hub is closed.
//
// filter runs on the publisher's goroutine while the hub's lock is held: it
// must be fast and must not call Hub or Subscription methods.
func (h *Hub) Subscribe(ctx context.Context, filter func(status.Event) bool) (*Subscription, error) {
	s, _, err := h.subscribe(ctx, filter, nil, false)
	return s, err
}

// sink receives a subscription's events in place of its channel. The hub
// calls its methods with its lock held: they must not block or call Hub or
// Subscription methods.
type sink interface {
	// put takes one event; it must never block.
	put(status.Event)
	// ended is called once, when the subscription ends; Err says why.
	ended()
}

// subscribe registers a subscription and, if withSnapshot, returns the
// snapshot taken atomically with the registration: every event is either in
// the snapshot or delivered to the subscription, never both and never
// neither. With a non-nil sk, events go to sk instead of a channel, and the
// hub never drops the subscription as slow: sk bounds itself.
func (h *Hub) subscribe(ctx context.Context, filter func(status.Event) bool, sk sink, withSnapshot bool) (*Subscription, []status.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("subscribe to status hub: %w", err)
	}
	s := &Subscription{
		id:     "sub-" + strconv.FormatUint(h.nextID.Add(1), 10),
		hub:    h,
		filter: filter,
		sink:   sk,
	}
	if sk == nil {
		s.ch = make(chan status.Event, h.cfg.SubscriberBuffer)
		s.backlog = newPendingQueue()
	}
	var snap []status.Event
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, fmt.Errorf("subscribe to status hub: %w", ErrHubClosed)
	}
	h.subs[s] = struct{}{}
	if withSnapshot {
		snap = h.jobs.events()
	}
	h.mu.Unlock()

	s.setStop(context.AfterFunc(ctx, func() { h.remove(s, ctx.Err()) }))
	h.mu.Lock()
	_, open := h.subs[s]
	h.mu.Unlock()
	if !open {
		// Dropped or closed before the callback was registered.
		s.stopCtx()
	}
	return s, snap, nil
}

// Snapshot returns the latest event of each known job, least recently updated
// first, at most MaxJobs of them.
func (h *Hub) Snapshot() []status.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.jobs.events()
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	n := len(h.subs)
	h.mu.Unlock()
	return HubStats{
		Published:   h.published.Load(),
		Delivered:   h.delivered.Load(),
		Coalesced:   h.coalesced.Load(),
		Dropped:     h.dropped.Load(),
		Subscribers: n,
	}
}

// Close closes every subscription (their Err returns ErrHubClosed) and makes
// later Publish calls no-ops and later Subscribe calls fail. It returns when
// every goroutine the hub started (one per subscription with a backlog) has
// ended. It is idempotent and safe to call concurrently with every other
// method.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	subs := make([]*Subscription, 0, len(h.subs))
	for s := range h.subs {
		h.removeLocked(s, ErrHubClosed)
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.stopCtx()
	}
	h.movers.Wait()
}

// remove ends s with err unless it has already ended.
func (h *Hub) remove(s *Subscription, err error) {
	h.mu.Lock()
	h.removeLocked(s, err)
	h.mu.Unlock()
}

// removeLocked ends s with err unless it has already ended. h.mu must be
// held: closing the channel under the lock is what keeps Publish from sending
// on a closed channel.
func (h *Hub) removeLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	switch {
	case s.sink != nil:
		s.sink.ended()
	case s.moving:
		// The mover is the channel's sender: it closes it.
		s.ended = true
		close(s.halt)
	default:
		close(s.ch)
	}
}
