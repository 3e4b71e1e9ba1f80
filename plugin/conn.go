package plugin

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
)

// Why a connection was refused before or during its hello.
var (
	errTooManyUnauthenticated = errors.New("too many unauthenticated connections")
	errNoHello                = errors.New("no hello")
	errStreamBeforeHello      = errors.New("peer opened a second stream before the hello")
)

// watchStreams closes ymx if the peer opens another stream before the
// hello is answered. stop ends the watch (it is idempotent) and reports
// errStreamBeforeHello if a stream was opened; extra is closed when one was.
func watchStreams(ymx *yamux.Session) (stop func() error, extra <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	seen := make(chan struct{})
	go func() {
		defer close(done)
		if st, err := ymx.AcceptStreamWithContext(ctx); err == nil {
			close(seen)
			st.Close()
			ymx.Close()
		}
	}()
	return func() error {
		cancel()
		<-done
		select {
		case <-seen:
			return errStreamBeforeHello
		default:
			return nil
		}
	}, seen
}

// preAuthErr names a second stream as the reason a hello failed, if one
// was opened: reading the hello then fails because the session was closed.
func preAuthErr(extra <-chan struct{}, err error) error {
	select {
	case <-extra:
		return errStreamBeforeHello
	default:
		return err
	}
}

// hostConn is one connection from a host that passed the hello.
type hostConn struct {
	s       *server
	ymx     *yamux.Session
	control net.Conn
	hostPID int

	ctx       context.Context // cancelled when the connection ends
	cancel    context.CancelFunc
	reqParent context.Context // ctx's values without its cancellation: requests' contexts derive from it

	// calls and bulk are set once, when the host opens those streams; the
	// ready channels close then.
	calls      *wire.Writer
	bulk       *wire.Writer
	callsReady chan struct{}
	bulkReady  chan struct{}

	mu        sync.Mutex
	running   map[string]runningCall
	drained   chan struct{}      // set by drain (the worker is stopping); closed when running empties
	drainDone bool               // drained is closed
	opened    map[string]bool    // the streams the host has opened, by name
	handlers  sync.WaitGroup     // handler goroutines, busy or idle
	turn      chan *frame.Reader // hands a stream's reader to an idle handler goroutine
	idleCount atomic.Int32
	streams   sync.WaitGroup

	shutdownRequested atomic.Bool
	done              chan struct{}
}

// handleConn runs the hello on a new connection and, if it is the host,
// serves it until it ends. At most maxUnauthenticated connections are
// between accept and the end of their hello; one beyond that is closed at
// once.
func (s *server) handleConn(conn net.Conn) {
	p := peerOf(conn)
	select {
	case s.unauthenticated <- struct{}{}:
	default:
		conn.Close()
		s.refused(fmt.Errorf("%w: %d connections have not said hello yet", errTooManyUnauthenticated, maxUnauthenticated), p)
		return
	}
	ycfg := wire.WorkerYamuxConfig()
	ymx, err := yamux.Server(wire.FrameConn(conn), ycfg)
	if err != nil {
		<-s.unauthenticated
		conn.Close()
		return
	}
	c, err := s.hello(ymx, ycfg, p)
	<-s.unauthenticated
	if err != nil {
		s.refused(err, p)
		ymx.Close()
		return
	}
	select {
	case s.connected <- c:
	case <-s.stopping:
		c.close()
	}
	c.serve()
}

// refused logs a refused connection, rate-limited.
func (s *server) refused(err error, p peer) {
	s.refusals.Add(append([]any{"error", err}, p.attrs()...)...)
}

// hello reads the host's hello on the first stream and answers it. Until
// it has answered, the peer may open no other stream: one closes the
// connection.
func (s *server) hello(ymx *yamux.Session, ycfg *yamux.Config, p peer) (*hostConn, error) {
	type accepted struct {
		st  *yamux.Stream
		err error
	}
	// A worker that stops does not wait for a peer to say hello. Once the
	// hello is read, the waits left are bounded (claimWait, refuseLinger)
	// and a refusal must get out.
	helloRead := make(chan struct{})
	cutOffDone := make(chan struct{})
	readHello := sync.OnceFunc(func() { close(helloRead); <-cutOffDone })
	defer readHello()
	go func() {
		defer close(cutOffDone)
		select {
		case <-s.stopping:
			ymx.Close()
		case <-helloRead:
		}
	}()
	ch := make(chan accepted, 1)
	go func() {
		st, err := ymx.AcceptStream()
		ch <- accepted{st, err}
	}()
	var st *yamux.Stream
	timer := time.NewTimer(helloTimeout)
	defer timer.Stop()
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, fmt.Errorf("accept control stream: %w", a.err)
		}
		st = a.st
	case <-timer.C:
		ymx.Close()
		<-ch
		return nil, fmt.Errorf("%w: no stream opened within %v", errNoHello, helloTimeout)
	}
	stopWatch, extra := watchStreams(ymx)
	defer stopWatch()
	br := bufio.NewReader(st)
	name, err := wire.ReadStreamName(st, br, helloTimeout)
	if err != nil {
		return nil, preAuthErr(extra, err)
	}
	if name != wire.StreamControl {
		return nil, fmt.Errorf("first stream is %q, want %q", name, wire.StreamControl)
	}
	st.SetReadDeadline(time.Now().Add(helloTimeout))
	var hh handshake.HostHello
	if err := handshake.ReadHello(br, &hh); err != nil {
		return nil, preAuthErr(extra, fmt.Errorf("read hello: %w", err))
	}
	st.SetReadDeadline(time.Time{})
	readHello()
	refuse := func(err error) (*hostConn, error) {
		stopWatch()
		handshake.WriteHello(st, refusalHello(err))
		// The refusal is in the socket once WriteHello returns; wait for
		// the peer to read it and hang up, so closing first cannot reset
		// the connection under it.
		linger := time.NewTimer(refuseLinger)
		defer linger.Stop()
		select {
		case <-ymx.CloseChan():
		case <-linger.C:
		}
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(hh.Token), []byte(s.env.AuthToken)) != 1 {
		return refuse(&refusal{handshake.CodeAuthFailed, fmt.Errorf("authentication failed: wrong auth token from %v (its hello claims pid %d)", p, hh.PID)})
	}
	if hh.Serializer != s.cfg.Serializer.Name() {
		return refuse(&handshake.SerializerMismatchError{Host: hh.Serializer, Worker: s.cfg.Serializer.Name()})
	}
	if hh.Fingerprint != s.fp {
		return refuse(&handshake.SerializerCollisionError{Name: hh.Serializer, Host: hh.Fingerprint, Worker: s.fp})
	}
	if hh.ProtocolVersion != s.version {
		return refuse(&handshake.VersionMismatchError{Host: []int{hh.ProtocolVersion}, Worker: []int{s.version}})
	}
	// The hello passed: no other stream may have been opened before it.
	if err := stopWatch(); err != nil {
		return nil, err
	}
	// Handlers find the logger in their context; it is set once here.
	ctx, cancel := context.WithCancel(hclog.WithContext(context.Background(), s.logger))
	hostPID := hh.PID
	if p.pid >= 0 {
		hostPID = p.pid
	}
	c := &hostConn{
		s: s, ymx: ymx, control: st, hostPID: hostPID,
		ctx: ctx, cancel: cancel, reqParent: context.WithoutCancel(ctx),
		turn:       make(chan *frame.Reader),
		callsReady: make(chan struct{}),
		bulkReady:  make(chan struct{}),
		running:    make(map[string]runningCall),
		done:       make(chan struct{}),
	}
	if err := s.claim(c); err != nil {
		cancel()
		return refuse(err)
	}
	// The streams the host opens next get the full window.
	wire.Authenticated(ycfg)
	s.expectHost() // before the hello's answer: the host may call at once
	if hh.LogLevel != "" && s.cfg.LogLevel == hclog.NoLevel {
		s.logger.SetLevel(hclogLevel(hh.LogLevel))
	}
	err = handshake.WriteHello(st, handshake.WorkerHello{
		ProtocolVersion:    s.version,
		Serializer:         s.cfg.Serializer.Name(),
		Fingerprint:        s.fp,
		PID:                os.Getpid(),
		Messages:           s.names,
		DisconnectBehavior: s.cfg.DisconnectBehavior.String(),
		MaxFrameSize:       s.codec.MaxFrame(),
		MaxRawSize:         s.codec.MaxRaw(),
	})
	if err != nil {
		// c is claimed: serve must run to release it, and it will find the
		// session closed and clean up as for any disconnect.
		s.logger.Debug("could not answer the host's hello", "error", err)
		c.close()
	}
	c.streams.Add(1)
	go c.readControl(br)
	return c, nil
}

// serve accepts the host's streams until the session ends, then cleans up.
func (c *hostConn) serve() {
	defer close(c.done)
	for {
		st, err := c.ymx.AcceptStream()
		if err != nil {
			break
		}
		c.streams.Add(1)
		go func() {
			defer c.streams.Done()
			c.serveStream(st)
		}()
	}
	c.cancel()
	c.s.logs.detach()
	c.s.events.detach()
	c.mu.Lock()
	for _, rc := range c.running {
		rc.cancel()
	}
	c.mu.Unlock()
	// The session is closed already (AcceptStream fails only then). The
	// stream readers end first: one that still reads a request adds a
	// handler goroutine, which must not race the wait for them.
	c.ymx.Close()
	c.streams.Wait()
	c.handlers.Wait()
	c.s.release(c)
}

func (c *hostConn) serveStream(st *yamux.Stream) {
	br := bufio.NewReaderSize(st, 64<<10)
	name, err := wire.ReadStreamName(st, br, helloTimeout)
	if err != nil {
		st.Close()
		return
	}
	switch name {
	case wire.StreamCalls, wire.StreamBulk, wire.StreamLogs, wire.StreamEvents:
		if !c.openStream(name) {
			c.s.logger.Error("host opened a second stream of a kind the connection has; closing the new one", "stream", name)
			st.Close()
			return
		}
	}
	switch name {
	case wire.StreamCalls:
		c.calls = wire.NewWriter(st)
		close(c.callsReady)
		c.readCalls(c.frameReader(st, br))
	case wire.StreamBulk:
		c.bulk = wire.NewWriter(st)
		close(c.bulkReady)
		c.readCalls(c.frameReader(st, br))
	case wire.StreamLogs:
		c.s.logs.attach(st)
	case wire.StreamEvents:
		c.s.events.attach(st)
	case wire.StreamItems:
		c.serveItems(st, br) // stream.go
	case wire.StreamControl:
		c.s.logger.Error("host opened a second control stream; closing it")
		st.Close()
	default:
		c.s.logger.Warn("host opened an unknown stream", "stream", name)
		st.Close()
	}
}

// openStream records that the host opened the stream name; it reports
// false if the host had opened one before. Each stream exists once per
// connection: a second calls stream would replace the writer replies go to.
func (c *hostConn) openStream(name string) bool {
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

// readControl reads the host's control messages.
func (c *hostConn) readControl(br *bufio.Reader) {
	defer c.streams.Done()
	for {
		var m handshake.Control
		if err := handshake.ReadHello(br, &m); err != nil {
			if !errors.Is(err, io.EOF) && c.ctx.Err() == nil {
				c.s.logger.Debug("control stream ended", "error", err)
			}
			c.close()
			return
		}
		switch m.Op {
		case handshake.OpShutdown:
			c.s.logger.Debug("host asked the worker to shut down")
			c.shutdownRequested.Store(true)
			c.goodbye("shutdown requested by host")
			c.close()
			return
		case handshake.OpGoodbye:
			c.s.logger.Debug("host disconnected", "reason", m.Reason)
			c.close()
			return
		default:
			c.s.logger.Warn("unknown control message from host", "op", m.Op)
		}
	}
}

// goodbye tells the host the worker is closing the connection, after the
// records queued for it have been written, waiting at most
// goodbyeFlushTimeout for them.
func (c *hostConn) goodbye(reason string) {
	flushed := make(chan struct{})
	c.s.wg.Add(1)
	go func() {
		// It ends when the records are written or when the connection
		// closes (which detaches the outboxes), whichever comes first.
		defer c.s.wg.Done()
		c.s.logs.flush()
		c.s.events.flush()
		close(flushed)
	}()
	t := time.NewTimer(goodbyeFlushTimeout)
	defer t.Stop()
	select {
	case <-flushed:
	case <-t.C:
		c.s.logger.Debug("host is not reading the worker's logs or events; saying goodbye without them",
			"goodbye_flush_timeout", goodbyeFlushTimeout.String())
	}
	b, _ := json.Marshal(handshake.Control{Op: handshake.OpGoodbye, Reason: reason})
	c.control.SetWriteDeadline(time.Now().Add(goodbyeWriteTimeout))
	c.control.Write(append(b, '\n'))
}

// close ends the connection; serve finishes the clean-up.
func (c *hostConn) close() {
	c.cancel()
	c.ymx.Close()
}
