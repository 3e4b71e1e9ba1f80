package statushub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// EndpointConfig configures the WebSocket endpoint returned by NewEndpoint. The
// zero value is valid: every zero field means the default documented in
// defaults.go.
type EndpointConfig struct {
	// MaxClients is how many WebSocket clients may be connected at once.
	// Further connection attempts get HTTP 503 Service Unavailable with a
	// plain-text body saying so. Default DefaultMaxClients (64).
	MaxClients int

	// RatePerSecond is the sustained number of messages per second sent to
	// one client, enforced by a token bucket of size Burst. Events within the
	// rate are sent one by one, in order. Events above the rate are
	// coalesced: while the client waits for budget, its queue keeps only the
	// latest waiting event of each job and sends it when the budget allows
	// (a waiting COMPLETED or FAILED is never replaced by a non-terminal
	// event), so the client always converges on every job's current state
	// but may skip intermediate states. math.Inf(1) disables the limit. Default
	// DefaultRatePerSecond (200).
	RatePerSecond float64

	// Burst is how many messages may be sent at once above the sustained rate
	// after a quiet period. Default DefaultBurst (100).
	Burst int

	// WriteTimeout is how long a client may go without taking a message
	// that is waiting for it: a write that has not completed in this time
	// means the client has stopped reading (a reading client drains a small
	// message at once), so the client is disconnected without a close
	// handshake, counted in EndpointStats.SlowDropped and reported to OnDrop.
	// A client that reads, however far it falls behind a burst, is not
	// disconnected for it: its waiting events are coalesced instead (only
	// more distinct jobs waiting than HubConfig.MaxJobs drop it). Default
	// DefaultWriteTimeout (5s).
	WriteTimeout time.Duration

	// OnDrop, if set, is called once for every client disconnected as slow
	// (see EndpointStats.SlowDropped), with its subscriber ID (as in the log)
	// and a human-readable reason, after the connection is closed. It runs on
	// the client's own goroutine and must return quickly.
	OnDrop func(subscriberID, reason string)

	// SkipSnapshot turns off the snapshot sent on connect. By default a new
	// client first receives the latest event of every job the hub knows
	// (Hub.Snapshot), without rate limiting, then live events.
	SkipSnapshot bool

	// Gauges, if set, supplies numbers for the page's header (a queue's
	// depth, in-flight and dead-letter counts: see package queue). A plain
	// GET of the endpoint with the query "?gauges" returns them as JSON;
	// the page polls it. nil means no gauges (that GET is a 404).
	Gauges GaugesFunc

	// OriginPatterns lists the host patterns that cross-origin browser
	// clients may connect from; it is passed to websocket.AcceptOptions. By
	// default only same-origin browser connections are accepted.
	OriginPatterns []string
}

// Validate reports whether c is usable. Errors wrap ErrInvalidConfig.
func (c EndpointConfig) Validate() error {
	switch {
	case c.MaxClients < 0:
		return fmt.Errorf("status websocket config: MaxClients is %d, want >= 0 (0 means %d): %w",
			c.MaxClients, DefaultMaxClients, ErrInvalidConfig)
	case math.IsNaN(c.RatePerSecond) || c.RatePerSecond < 0:
		return fmt.Errorf("status websocket config: RatePerSecond is %v, want >= 0 (0 means %v, +Inf means no limit): %w",
			c.RatePerSecond, DefaultRatePerSecond, ErrInvalidConfig)
	case c.Burst < 0:
		return fmt.Errorf("status websocket config: Burst is %d, want >= 0 (0 means %d): %w",
			c.Burst, DefaultBurst, ErrInvalidConfig)
	case c.WriteTimeout < 0:
		return fmt.Errorf("status websocket config: WriteTimeout is %v, want >= 0 (0 means %v): %w",
			c.WriteTimeout, DefaultWriteTimeout, ErrInvalidConfig)
	}
	return nil
}

func (c EndpointConfig) withDefaults() EndpointConfig {
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return c
}

// EndpointStats is a point-in-time view of a Endpoint's counters.
type EndpointStats struct {
	// Clients is the number of WebSocket clients connected now.
	Clients int
	// Accepted counts WebSocket connections accepted.
	Accepted uint64
	// Rejected counts connection attempts refused with HTTP 503 because
	// MaxClients clients were connected (or the endpoint was closed).
	Rejected uint64
	// SlowDropped counts clients disconnected for being too slow: a write
	// took longer than WriteTimeout (the client stopped reading), or more
	// distinct jobs were waiting than the hub's MaxJobs.
	SlowDropped uint64
	// Sent counts messages written to clients, snapshot included.
	Sent uint64
	// Coalesced counts events never sent because a later event of the same
	// job replaced them while they waited (see RatePerSecond and
	// HubConfig.SubscriberBuffer).
	Coalesced uint64
}

// Endpoint is the WebSocket endpoint that streams a Hub's events as JSON
// text messages, one Event per message. It implements http.Handler; it is
// called Endpoint so it is not mistaken for plugin.Handler and host.Handler,
// which register message handlers.
type Endpoint struct {
	hub        *Hub
	cfg        EndpointConfig
	coalesceAt int // a client's queue coalesces above this many events: the hub's SubscriberBuffer
	maxPending int // a client is dropped above this many waiting jobs: the hub's MaxJobs
	log        hclog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu      sync.Mutex // guards clients and closed
	clients int
	closed  bool
	wg      sync.WaitGroup // one per admitted request

	accepted    atomic.Uint64
	rejected    atomic.Uint64
	slowDropped atomic.Uint64
	sent        atomic.Uint64
	coalesced   atomic.Uint64
}

var _ http.Handler = (*Endpoint)(nil)

// NewEndpoint returns the WebSocket endpoint for hub, or an error wrapping
// ErrInvalidConfig. Call Close to disconnect its clients when shutting down;
// the http.Server does not track hijacked WebSocket connections.
func NewEndpoint(hub *Hub, cfg EndpointConfig) (*Endpoint, error) {
	if hub == nil {
		return nil, fmt.Errorf("status websocket: hub is nil: %w", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Endpoint{
		hub:        hub,
		cfg:        cfg.withDefaults(),
		coalesceAt: hub.cfg.SubscriberBuffer,
		maxPending: hub.cfg.MaxJobs,
		log:        hub.cfg.Logger.Named("websocket"),
		ctx:        ctx,
		cancel:     cancel,
	}, nil
}

// Stats returns the endpoint's counters.
func (h *Endpoint) Stats() EndpointStats {
	h.mu.Lock()
	n := h.clients
	h.mu.Unlock()
	return EndpointStats{
		Clients:     n,
		Accepted:    h.accepted.Load(),
		Rejected:    h.rejected.Load(),
		SlowDropped: h.slowDropped.Load(),
		Sent:        h.sent.Load(),
		Coalesced:   h.coalesced.Load(),
	}
}

// Close disconnects every client with close status 1001 (going away),
// refuses new connections with HTTP 503, and returns when every connection's
// goroutines have ended. It is idempotent. A client that is in the middle of a
// stalled write is disconnected without a close handshake.
func (h *Endpoint) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// ServeHTTP upgrades the request to a WebSocket and streams events until the
// client goes away, is too slow, or the hub or endpoint is closed.
//
// A plain GET (or HEAD) without an Upgrade: websocket header gets the hub's
// current snapshot instead, as one JSON array of events (the same objects as
// the WebSocket messages), least recently updated job first. The status page
// loads it before connecting, and it is handy with curl. It does not count
// against MaxClients.
func (h *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isWebSocketUpgrade(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if r.URL.Query().Has("gauges") {
			h.serveGauges(w, r)
			return
		}
		h.serveSnapshot(w)
		return
	}
	if msg, ok := h.admit(); !ok {
		h.rejected.Add(1)
		http.Error(w, msg, http.StatusServiceUnavailable)
		return
	}
	defer h.release()

	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.cfg.OriginPatterns})
	if err != nil {
		// Accept has already written an HTTP error response.
		h.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "error", err)
		return
	}
	h.accepted.Add(1)
	h.serve(conn, r.RemoteAddr)
}

func isWebSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

func (h *Endpoint) serveSnapshot(w http.ResponseWriter) {
	snap := h.hub.Snapshot()
	b, err := json.Marshal(snap)
	if err != nil {
		// Only an event with invalid Data fails; encode the rest.
		valid := snap[:0:0]
		for _, ev := range snap {
			if _, err := json.Marshal(ev); err == nil {
				valid = append(valid, ev)
			}
		}
		b, _ = json.Marshal(valid)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (h *Endpoint) admit() (rejection string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return "status websocket endpoint is shutting down", false
	}
	if h.clients >= h.cfg.MaxClients {
		return fmt.Sprintf("too many status clients: %d are connected, the limit (EndpointConfig.MaxClients) is %d; close another status page or try again later",
			h.clients, h.cfg.MaxClients), false
	}
	h.clients++
	h.wg.Add(1)
	return "", true
}

func (h *Endpoint) release() {
	h.mu.Lock()
	h.clients--
	h.mu.Unlock()
	h.wg.Done()
}

// client is one connection's queue, shared by the hub (which puts events
// into it while publishing, as the subscription's sink) and the connection's
// writer (the request goroutine). Neither waits for the other: the hub only
// appends or coalesces, and the writer only pops.
type client struct {
	handler    *Endpoint
	coalesceAt int           // coalesce once more events than this are waiting
	maxPending int           // drop the client once more jobs than this are waiting
	signal     chan struct{} // wakes the writer; capacity 1

	mu       sync.Mutex
	queue    *pendingQueue
	overflow bool // more than maxPending jobs were waiting; the queue is dropped
	done     bool // the subscription has ended
}

var _ sink = (*client)(nil)

// put queues ev for the writer; the hub calls it while publishing. When more
// than coalesceAt events are waiting the queue coalesces to the latest event
// of each job (never replacing a terminal one), so a burst costs memory per
// job, not per event. If more than maxPending jobs are still waiting the
// client is given up on: the queue is dropped and the writer ends the
// connection as slow.
func (c *client) put(ev status.Event) {
	c.mu.Lock()
	if c.overflow || c.done {
		c.mu.Unlock()
		return
	}
	if c.queue.put(ev) {
		c.handler.coalesced.Add(1)
	}
	if c.queue.len() > c.coalesceAt {
		c.handler.coalesced.Add(uint64(c.queue.compact()))
		if c.queue.len() > c.maxPending {
			c.overflow = true
			c.queue = newPendingQueue()
		}
	}
	c.mu.Unlock()
	c.wake()
}

// ended is called by the hub when the subscription ends.
func (c *client) ended() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	c.wake()
}

func (c *client) wake() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// slowError is how run reports that a client must be dropped as slow.
type slowError struct{ reason string }

func (e *slowError) Error() string { return "status client too slow: " + e.reason }

// goingAwayError is how run reports that the server side is ending the
// connection in an orderly way (hub or endpoint closed).
type goingAwayError struct{ reason string }

func (e *goingAwayError) Error() string { return e.reason }

// serve runs one connection to its end and closes it.
func (h *Endpoint) serve(conn *websocket.Conn, remote string) {
	// CloseRead answers pings and the close handshake; its context ends when
	// the connection does. Clients are not expected to send data messages.
	readCtx := conn.CloseRead(context.Background())

	c := &client{
		handler:    h,
		coalesceAt: h.coalesceAt,
		maxPending: h.maxPending,
		signal:     make(chan struct{}, 1),
		queue:      newPendingQueue(),
	}
	sub, snap, err := h.hub.subscribe(readCtx, nil, c, !h.cfg.SkipSnapshot)
	if err != nil {
		conn.Close(websocket.StatusGoingAway, "status hub closed")
		return
	}
	log := h.log.With("remote", remote, "subscriber", sub.ID())
	log.Debug("status client connected", "snapshot_events", len(snap))

	err = h.run(conn, c, sub, snap, readCtx)
	sub.Close()

	var slow *slowError
	var away *goingAwayError
	switch {
	case errors.As(err, &slow):
		// No close handshake: a client that does not read would not read
		// the close frame either.
		conn.CloseNow()
		h.slowDropped.Add(1)
		log.Warn("dropped slow status client", "reason", slow.reason)
		if h.cfg.OnDrop != nil {
			h.cfg.OnDrop(sub.ID(), slow.reason)
		}
	case errors.As(err, &away):
		conn.Close(websocket.StatusGoingAway, away.reason)
	default:
		log.Debug("status client disconnected", "error", err)
		conn.CloseNow()
	}
}

// run writes the snapshot and then live events until the connection must
// end, and returns why.
func (h *Endpoint) run(conn *websocket.Conn, c *client, sub *Subscription, snap []status.Event, readCtx context.Context) error {
	for _, ev := range snap {
		if err := h.write(conn, c, ev); err != nil {
			return err
		}
	}

	bucket := newTokenBucket(h.cfg.RatePerSecond, h.cfg.Burst, time.Now())
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		wait, err := h.flush(conn, c, bucket)
		if err != nil {
			return err
		}
		c.mu.Lock()
		overflow, ended := c.overflow, c.done
		c.mu.Unlock()
		switch {
		case overflow:
			return c.overflowError()
		case ended:
			switch err := sub.Err(); {
			case errors.Is(err, ErrHubClosed):
				return &goingAwayError{reason: "status hub closed"}
			default:
				return fmt.Errorf("subscription ended: %w", err)
			}
		}

		var tick <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-c.signal:
		case <-tick:
		case <-readCtx.Done():
			return fmt.Errorf("connection closed: %w", context.Cause(readCtx))
		case <-h.ctx.Done():
			return &goingAwayError{reason: "status endpoint shutting down"}
		}
		timer.Stop()
	}
}

func (c *client) overflowError() error {
	return &slowError{reason: fmt.Sprintf("more than %d jobs were waiting to be sent (HubConfig.MaxJobs)", c.maxPending)}
}

// flush writes waiting events while the rate budget allows. It returns how
// long to wait for the next token if events are still waiting.
func (h *Endpoint) flush(conn *websocket.Conn, c *client, bucket *tokenBucket) (time.Duration, error) {
	for {
		c.mu.Lock()
		if c.queue.len() == 0 {
			c.mu.Unlock()
			return 0, nil
		}
		ok, wait := bucket.take(time.Now())
		if !ok {
			// Out of budget: from now until the queue is empty, keep only
			// the latest event of each job.
			h.coalesced.Add(uint64(c.queue.compact()))
			c.mu.Unlock()
			return wait, nil
		}
		ev, _ := c.queue.pop()
		c.mu.Unlock()
		if err := h.write(conn, c, ev); err != nil {
			return 0, err
		}
	}
}

// write sends ev as one JSON text message within WriteTimeout. A write that
// times out is reported as a slowError. An event that cannot be encoded is
// logged and skipped.
func (h *Endpoint) write(conn *websocket.Conn, c *client, ev status.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		// Only invalid Data can fail to encode; one bad event must not cost
		// the client its connection.
		h.log.Warn("skipped status event that cannot be encoded as JSON", "job_id", ev.JobID, "error", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.WriteTimeout)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.mu.Lock()
		overflow := c.overflow
		c.mu.Unlock()
		switch {
		case overflow:
			return c.overflowError()
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			// Checked on our context, not err: when the deadline closes the
			// connection, coder/websocket may report net.ErrClosed instead.
			return &slowError{reason: fmt.Sprintf("writing one message took longer than %v (EndpointConfig.WriteTimeout)", h.cfg.WriteTimeout)}
		case h.ctx.Err() != nil:
			return &goingAwayError{reason: "status endpoint shutting down"}
		}
		return fmt.Errorf("write status event for job %q: %w", ev.JobID, err)
	}
	h.sent.Add(1)
	return nil
}
