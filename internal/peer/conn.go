package peer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/ratelog"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Role is the side a Conn plays. The host opens the streams and reads the
// worker's logs and events; the worker accepts the streams and writes them.
// Calls go both ways.
type Role uint8

// Roles.
const (
	Host Role = iota
	Worker
)

func (r Role) String() string {
	if r == Worker {
		return "worker"
	}
	return "host"
}

// Config configures one connection.
type Config struct {
	Role    Role
	Version int
	// Codec reads with this side's limits; SendCodec encodes, refusing what
	// the peer said it would refuse (nil: Codec).
	Codec, SendCodec *wire.Codec
	// Handlers serve the peer's requests; an empty set answers every
	// request with shared.CodeUnknownMessage.
	Handlers HandlerSet
	// Middleware sees this side's calls (Outgoing request, Incoming end)
	// and the requests it serves (Incoming request, Outgoing reply).
	Middleware shared.Middleware
	Logger     hclog.Logger
	// Peer names the other side in errors and logs: `worker "resize"`,
	// "host".
	Peer string
	// Context is the parent of every handler's context, for its values
	// (the logger); its cancellation is ignored. Default: Background.
	Context context.Context
	// Lost turns the cause of a broken connection into the error pending
	// calls fail with (a host names the worker's exit). Default: an error
	// wrapping ErrConnectionLost.
	Lost func(cause error) error
	// OnEvent delivers one event read from the events stream (host). body
	// is valid only during the call.
	OnEvent func(h *wire.Header, body []byte)
	// OnStream takes a stream the peer opened that the Conn does not read
	// itself: logs and events on a worker, and names it does not know (it
	// closes those when OnStream is nil). It runs on a goroutine of the
	// Conn.
	OnStream func(name string, st *yamux.Stream)
	// OnControl is called for each control message from the peer, and once
	// with a non-nil err when the control stream ends. The Conn stops
	// reading the control stream when it returns true.
	OnControl func(m handshakewire.Control, err error) (stop bool)
	// OnEnd is called once when the session has ended, before the Conn
	// waits for its goroutines.
	OnEnd func()
	// ErrLost is the sentinel a lost connection's error wraps (default
	// ErrConnectionLost).
	ErrLost error
	// Unexpected and Unknown count messages of the wrong kind and replies
	// no call waits for (one warning a second); nil: a default.
	Unexpected, Unknown *ratelog.Limiter
	// StallTimeout bounds the wait for the rest of a raw body (default
	// wire.RawStallTimeout); NameTimeout the wait for a stream's name.
	StallTimeout, NameTimeout time.Duration
	// Owner is the role's own state, for its API to find from a handler's
	// context (CallInfo).
	Owner any
}

// Conn is one connection to the other side.
type Conn struct {
	cfg     Config
	ymx     *yamux.Session
	control net.Conn

	ctx       context.Context // ends when the connection does
	cancel    context.CancelFunc
	reqParent context.Context

	calls, bulk           *wire.Sender
	callsReady, bulkReady chan struct{}

	mu      sync.Mutex
	opened  map[string]bool
	pending map[string]*call
	failErr error
	// abandoned holds the ids of calls that gave up (deadline, cancel), the
	// last maxAbandoned of them, so that their late replies are expected.
	abandoned    map[string]struct{}
	abandonedIDs []string
	eventsErr    error // the events reader stopped: calls no longer wait for events
	running      map[string]runningCall
	drained      chan struct{} // set by Drain; closed when running empties
	drainDone    bool

	streams   [4]*yamux.Stream   // the host's streams, from Open to Start
	turn      chan *frame.Reader // hands a stream's reader to an idle handler goroutine
	idleCount atomic.Int32
	handlers  sync.WaitGroup
	wg        sync.WaitGroup
	endOnce   sync.Once
}

// New returns the connection over ymx, whose hello passed on control.
func New(cfg Config, ymx *yamux.Session, control net.Conn) *Conn {
	if cfg.SendCodec == nil {
		cfg.SendCodec = cfg.Codec
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = wire.RawStallTimeout
	}
	if cfg.NameTimeout == 0 {
		cfg.NameTimeout = defaultNameTimeout
	}
	if cfg.ErrLost == nil {
		cfg.ErrLost = ErrConnectionLost
	}
	if cfg.Lost == nil {
		peer, sentinel := cfg.Peer, cfg.ErrLost
		cfg.Lost = func(cause error) error { return fmt.Errorf("%s: %w: %v", peer, sentinel, cause) }
	}
	if cfg.Unexpected == nil {
		cfg.Unexpected = ratelog.New(warnEvery, warnCounted(cfg.Logger, cfg.Peer,
			"messages of the wrong kind; ignored"))
	}
	if cfg.Unknown == nil {
		cfg.Unknown = ratelog.New(warnEvery, warnCounted(cfg.Logger, cfg.Peer,
			"replies for transaction ids this side never sent or already answered; ignored"))
	}
	ctx, cancel := context.WithCancel(cfg.Context)
	return &Conn{
		cfg: cfg, ymx: ymx, control: control,
		ctx: ctx, cancel: cancel, reqParent: context.WithoutCancel(ctx),
		callsReady: make(chan struct{}), bulkReady: make(chan struct{}),
		pending: make(map[string]*call), abandoned: make(map[string]struct{}),
		running: make(map[string]runningCall),
		turn:    make(chan *frame.Reader),
	}
}

func warnCounted(logger hclog.Logger, peer, msg string) func(ratelog.Summary) {
	return func(s ratelog.Summary) {
		logger.Warn(msg, append([]any{"peer", peer, "count", s.Count, "window", s.Window.String()}, s.Last...)...)
	}
}

// Session returns the yamux session.
func (c *Conn) Session() *yamux.Session { return c.ymx }

// Done returns a channel closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.ctx.Done() }

// Owner returns Config.Owner.
func (c *Conn) Owner() any { return c.cfg.Owner }

// Version returns the connection's protocol version.
func (c *Conn) Version() int { return c.cfg.Version }

// Go runs fn on a goroutine the Conn waits for (Wait).
func (c *Conn) Go(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// Open opens the streams after the hello (host): calls, logs, events and
// bulk, in that order. Nothing reads or writes them until Start.
func (c *Conn) Open() error {
	for i, name := range []string{wire.StreamCalls, wire.StreamLogs, wire.StreamEvents, wire.StreamBulk} {
		st, err := OpenStream(c.ymx, name)
		if err != nil {
			for _, s := range c.streams[:i] {
				s.Close()
			}
			return fmt.Errorf("open %s stream: %w", name, err)
		}
		c.streams[i] = st
	}
	return nil
}

// Start starts the goroutines of a connection whose streams Open opened
// (host): the readers of the calls, bulk, events and control streams (br:
// the control stream's reader past the hello), the writers, and OnStream
// with the logs stream.
func (c *Conn) Start(br *bufio.Reader) {
	calls, logs, events, bulk := c.streams[0], c.streams[1], c.streams[2], c.streams[3]
	c.Go(func() { c.readControl(br) })
	c.serveCalls(calls, bufio.NewReaderSize(calls, 64<<10), wire.StreamCalls)
	c.serveCalls(bulk, bufio.NewReaderSize(bulk, 64<<10), wire.StreamBulk)
	if c.cfg.OnStream != nil {
		c.Go(func() { c.cfg.OnStream(wire.StreamLogs, logs) })
	}
	c.Go(func() {
		c.readEvents(frame.NewReader(bufio.NewReaderSize(events, 16<<10), c.cfg.Codec.Terminator(), c.cfg.Codec.MaxFrame()))
	})
	c.Go(c.watchEnd)
}

// Serve accepts the peer's streams (worker) and reads the control stream
// (br: its reader past the hello) until the session ends, then ends the
// connection: pending calls fail, running handlers are cancelled, and it
// returns after every goroutine of the Conn has ended.
func (c *Conn) Serve(br *bufio.Reader) {
	c.Go(func() { c.readControl(br) })
	for {
		st, err := c.ymx.AcceptStream()
		if err != nil {
			break
		}
		c.Go(func() { c.serveStream(st) })
	}
	c.end(c.cfg.Lost(yamux.ErrSessionShutdown))
	c.Wait()
}

// watchEnd ends the connection when the session does (host).
func (c *Conn) watchEnd() {
	select {
	case <-c.ymx.CloseChan():
		c.lost(yamux.ErrSessionShutdown)
	case <-c.ctx.Done():
	}
}

// end fails the pending calls with err (unless they failed already),
// cancels the running handlers and closes the session, once.
func (c *Conn) end(err error) {
	c.fail(err)
	c.endOnce.Do(func() {
		c.cancel()
		c.ymx.Close()
		c.mu.Lock()
		for _, rc := range c.running {
			rc.cancel()
		}
		c.mu.Unlock()
		if c.cfg.OnEnd != nil {
			c.cfg.OnEnd()
		}
	})
}

// Close fails pending calls with err (if nothing failed them before),
// cancels running handlers and closes the session. It does not wait: Wait
// does.
func (c *Conn) Close(err error) { c.end(err) }

// Wait waits for every goroutine the Conn started, handlers included.
// The stream goroutines end first: one that still reads a request adds a
// handler goroutine, which must not race the wait for them.
func (c *Conn) Wait() {
	c.wg.Wait()
	c.handlers.Wait()
	c.cfg.Unexpected.Flush()
	c.cfg.Unknown.Flush()
}

// Err returns why the connection failed, or nil while it works.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failErr
}

// fail fails every pending call with err, once; later calls fail with the
// first error.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.failErr != nil {
		c.mu.Unlock()
		return
	}
	c.failErr = err
	pending := c.pending
	c.pending = nil
	waiting := make([]*call, 0, len(pending))
	for _, cl := range pending {
		if cl.replied {
			// It has its reply and waits for its events: wake it to see
			// failErr.
			select {
			case cl.evCh <- struct{}{}:
			default:
			}
			continue
		}
		waiting = append(waiting, cl)
	}
	c.mu.Unlock()
	for _, cl := range waiting {
		cl.done <- reply{err: err}
	}
}

// lost is called by a reader whose stream broke, or a writer whose stream
// failed: the connection ends with Config.Lost's error.
func (c *Conn) lost(cause error) {
	if err := c.Err(); err != nil {
		c.end(err) // failed already: make sure the session is closed
		return
	}
	if c.cfg.Role == Worker && !errors.Is(cause, io.EOF) && !errors.Is(cause, yamux.ErrStreamClosed) &&
		!errors.Is(cause, yamux.ErrSessionShutdown) {
		c.cfg.Logger.Error("bad message from "+c.cfg.Peer+"; closing the connection", "error", cause)
	}
	err := c.cfg.Lost(cause)
	c.cfg.Logger.Debug("connection ended", "peer", c.cfg.Peer, "error", err)
	c.end(err)
}

// SendControl writes one control message, waiting at most timeout.
func (c *Conn) SendControl(op, reason string, timeout time.Duration) error {
	b, _ := json.Marshal(handshakewire.Control{Op: op, Reason: reason})
	c.control.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.control.Write(append(b, '\n'))
	return err
}

// readControl reads the peer's control messages.
func (c *Conn) readControl(br *bufio.Reader) {
	for {
		var m handshakewire.Control
		if err := handshakewire.ReadHello(br, &m); err != nil {
			if c.cfg.OnControl != nil {
				c.cfg.OnControl(m, err)
			}
			return
		}
		if c.cfg.OnControl != nil && c.cfg.OnControl(m, nil) {
			return
		}
	}
}

// serveStream reads the name of a stream the peer opened and serves it.
func (c *Conn) serveStream(st *yamux.Stream) {
	br := bufio.NewReaderSize(st, 64<<10)
	name, err := wire.ReadStreamName(st, br, c.cfg.NameTimeout)
	if err != nil {
		st.Close()
		return
	}
	switch name {
	case wire.StreamControl:
		c.cfg.Logger.Error(c.cfg.Peer + " opened a second control stream; closing it")
		st.Close()
		return
	case wire.StreamCalls, wire.StreamBulk, wire.StreamLogs, wire.StreamEvents:
		if !c.openOnce(name) {
			c.cfg.Logger.Error(c.cfg.Peer+" opened a second stream of a kind the connection has; closing the new one", "stream", name)
			st.Close()
			return
		}
	}
	switch name {
	case wire.StreamCalls, wire.StreamBulk:
		c.serveCalls(st, br, name)
	case wire.StreamItems:
		c.serveItems(st, br) // stream.go: one per streaming call
	default:
		// Logs and events (which the worker writes) and, for the role to
		// decide, any other name.
		if c.cfg.OnStream != nil {
			c.cfg.OnStream(name, st)
			return
		}
		c.cfg.Logger.Warn(c.cfg.Peer+" opened an unknown stream", "stream", name)
		st.Close()
	}
}

// openOnce records that the stream name is open; it reports false if it
// was before. Each stream exists once per connection: a second calls
// stream would replace the writer replies go to.
func (c *Conn) openOnce(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opened[name] {
		return false
	}
	if c.opened == nil {
		c.opened = make(map[string]bool)
	}
	c.opened[name] = true
	return true
}

// serveCalls makes st the calls or bulk stream: a Sender writes to it and
// a leader/follower pool reads it.
func (c *Conn) serveCalls(st *yamux.Stream, br *bufio.Reader, name string) {
	s := wire.NewSender(st, wire.MaxQueued, c.ymx.CloseChan())
	if name == wire.StreamCalls {
		c.calls = s
		close(c.callsReady)
	} else {
		c.bulk = s
		close(c.bulkReady)
	}
	c.Go(s.Run)
	r := frame.NewReader(br, c.cfg.Codec.Terminator(), c.cfg.Codec.MaxFrame())
	r.SetStallTimeout(c.cfg.StallTimeout, st.SetReadDeadline)
	c.handlers.Add(1)
	go func() {
		defer c.handlers.Done()
		c.read(r)
	}()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// send encodes and queues one message: on the calls stream, or on the bulk
// stream for a large raw payload. It waits for the stream to be open and
// for room in its queue at most until ctx ends; a nil ctx queues at once
// (a small control message: a cancel, an error reply from a reader). An
// encoding error is returned as it is; a failed stream ends the connection
// and returns its error.
func (c *Conn) send(ctx context.Context, h *wire.Header, payload any) error {
	bp := bufPool.Get().(*[]byte)
	defer func() { *bp = (*bp)[:0]; bufPool.Put(bp) }()
	out, raw, err := c.cfg.SendCodec.Encode((*bp)[:0], h, payload)
	*bp = out
	if err != nil {
		return &encodeError{err}
	}
	ready, s := c.callsReady, &c.calls
	if len(raw) >= wire.LargeThreshold {
		ready, s = c.bulkReady, &c.bulk
	}
	select {
	case <-ready: // first: a stream that is open takes the message even while the connection ends
	default:
		var done <-chan struct{}
		if ctx != nil {
			done = ctx.Done()
		}
		select {
		case <-ready:
		case <-c.ctx.Done():
			return c.ended()
		case <-done:
			return context.Cause(ctx)
		}
	}
	switch {
	case ctx == nil:
		err = (*s).Queue(out, raw)
	case ctx == c.ctx:
		// A reply: no caller waits for its goroutine, so it may write
		// itself (wire.Sender.WriteNow).
		err = (*s).WriteNow(out, raw)
	default:
		err = (*s).Write(ctx, out, raw)
	}
	if err != nil && (ctx == nil || ctx.Err() == nil) {
		// The stream failed: a broken connection, as when a read fails.
		// lost fails every pending call, with the worker's exit status
		// when a host's worker has exited: a request may have reached a
		// worker that crashed on it.
		c.lost(err)
		return c.ended()
	}
	if err != nil {
		return fmt.Errorf("queue %s: %s is not taking messages: %w", h.Kind, c.cfg.Peer, err)
	}
	return nil
}

// ended returns the connection's error once it ended.
func (c *Conn) ended() error {
	if err := c.Err(); err != nil {
		return err
	}
	return c.cfg.Lost(yamux.ErrSessionShutdown)
}

// Fail fails the pending calls with err, once (unless they failed
// already), without closing the connection: calls made later fail with it
// too. Running handlers go on.
func (c *Conn) Fail(err error) { c.fail(err) }
