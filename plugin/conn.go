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

// helloTimeout bounds how long an accepted connection may take to say hello.
const helloTimeout = 10 * time.Second

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
	handlers  sync.WaitGroup     // handler goroutines, busy or idle
	turn      chan *frame.Reader // hands a stream's reader to an idle handler goroutine
	idleCount atomic.Int32
	streams   sync.WaitGroup

	shutdownRequested atomic.Bool
	done              chan struct{}
}

// handleConn runs the hello on a new connection and, if it is the host,
// serves it until it ends.
func (s *server) handleConn(conn net.Conn) {
	ymx, err := yamux.Server(wire.FrameConn(conn), wire.YamuxConfig())
	if err != nil {
		conn.Close()
		return
	}
	c, err := s.hello(ymx)
	if err != nil {
		s.logger.Warn("refused a connection", "error", err)
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

// hello reads the host's hello on the first stream and answers it.
func (s *server) hello(ymx *yamux.Session) (*hostConn, error) {
	type accepted struct {
		st  *yamux.Stream
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		st, err := ymx.AcceptStream()
		ch <- accepted{st, err}
	}()
	var st *yamux.Stream
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, fmt.Errorf("accept control stream: %w", a.err)
		}
		st = a.st
	case <-time.After(helloTimeout):
		ymx.Close()
		<-ch
		return nil, errors.New("no hello within 10s")
	}
	br := bufio.NewReader(st)
	name, err := wire.ReadStreamName(st, br, helloTimeout)
	if err != nil {
		return nil, err
	}
	if name != wire.StreamControl {
		return nil, fmt.Errorf("first stream is %q, want %q", name, wire.StreamControl)
	}
	st.SetReadDeadline(time.Now().Add(helloTimeout))
	var hh handshake.HostHello
	if err := handshake.ReadHello(br, &hh); err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	st.SetReadDeadline(time.Time{})
	refuse := func(err error) (*hostConn, error) {
		handshake.WriteHello(st, handshake.WorkerHello{Error: err.Error()})
		time.Sleep(10 * time.Millisecond) // let the refusal leave before the session closes
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(hh.Token), []byte(s.env.AuthToken)) != 1 {
		return refuse(fmt.Errorf("authentication failed: wrong auth token from pid %d", hh.PID))
	}
	if hh.Serializer != s.cfg.Serializer.Name() {
		return refuse(&handshake.SerializerMismatchError{Host: hh.Serializer, Worker: s.cfg.Serializer.Name()})
	}
	if hh.Fingerprint != s.fp {
		return refuse(&handshake.SerializerCollisionError{Name: hh.Serializer, Host: hh.Fingerprint, Worker: s.fp})
	}
	if hh.ProtocolVersion != s.version {
		return refuse(fmt.Errorf("protocol version mismatch: host asks for %d, worker serves %d", hh.ProtocolVersion, s.version))
	}
	// Handlers find the logger in their context; it is set once here.
	ctx, cancel := context.WithCancel(hclog.WithContext(context.Background(), s.logger))
	c := &hostConn{
		s: s, ymx: ymx, control: st, hostPID: hh.PID,
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
	c.handlers.Wait()
	c.ymx.Close()
	c.streams.Wait()
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
	case wire.StreamCalls:
		c.calls = wire.NewWriter(st)
		close(c.callsReady)
		c.readCalls(frame.NewReader(br, c.s.codec.Terminator(), c.s.codec.MaxFrame()))
	case wire.StreamBulk:
		c.bulk = wire.NewWriter(st)
		close(c.bulkReady)
		c.readCalls(frame.NewReader(br, c.s.codec.Terminator(), c.s.codec.MaxFrame()))
	case wire.StreamLogs:
		c.s.logs.attach(st)
	case wire.StreamEvents:
		c.s.events.attach(st)
	default:
		c.s.logger.Warn("host opened an unknown stream", "stream", name)
		st.Close()
	}
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
// records queued for it have been written.
func (c *hostConn) goodbye(reason string) {
	c.s.logs.flush()
	c.s.events.flush()
	b, _ := json.Marshal(handshake.Control{Op: handshake.OpGoodbye, Reason: reason})
	c.control.SetWriteDeadline(time.Now().Add(time.Second))
	c.control.Write(append(b, '\n'))
}

// close ends the connection; serve finishes the clean-up.
func (c *hostConn) close() {
	c.cancel()
	c.ymx.Close()
}
