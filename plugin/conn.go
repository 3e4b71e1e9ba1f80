package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
)

// Why a connection was refused before or during its hello.
var errTooManyUnauthenticated = errors.New("too many unauthenticated connections")

// hostConn is one connection from a host that passed the hello: the
// connected peer (internal/peer) and the worker's state about it.
type hostConn struct {
	*peer.Conn
	s       *server
	hostPID int

	greeting *peer.Greeting

	shutdownRequested atomic.Bool
	done              chan struct{} // closed when serve has cleaned up
}

// handleConn runs the hello on a new connection and, if it is the host,
// serves it until it ends. At most maxUnauthenticated connections are
// between accept and the end of their hello; one beyond that is closed at
// once.
func (s *server) handleConn(nc net.Conn) {
	p := peerOf(nc)
	select {
	case s.unauthenticated <- struct{}{}:
	default:
		nc.Close()
		s.refused(fmt.Errorf("%w: %d connections have not said hello yet", errTooManyUnauthenticated, maxUnauthenticated), p)
		return
	}
	ycfg := wire.WorkerYamuxConfig()
	ymx, err := yamux.Server(wire.FrameConn(nc), ycfg)
	if err != nil {
		<-s.unauthenticated
		nc.Close()
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
func (s *server) refused(err error, p peerCred) {
	s.refusals.Add(append([]any{"error", err}, p.attrs()...)...)
}

// hello reads the host's hello on the first stream and answers it. Until
// it has answered, the peer may open no other stream: one closes the
// connection.
func (s *server) hello(ymx *yamux.Session, ycfg *yamux.Config, p peerCred) (*hostConn, error) {
	g, err := peer.Welcome{
		Token: s.env.AuthToken, Serializer: s.cfg.Serializer.Name(), Fingerprint: s.fp, Version: s.version,
		From: p.String(), Stopping: s.stopping, Timeout: helloTimeout, Linger: refuseLinger,
	}.Await(ymx)
	if err != nil {
		return nil, err
	}
	hostPID := g.Hello.PID
	if p.pid >= 0 {
		hostPID = p.pid
	}
	c := &hostConn{s: s, hostPID: hostPID, done: make(chan struct{})}
	// Handlers find the logger in their context; it is set once here.
	c.Conn = peer.New(peer.Config{
		Role:        peer.Worker,
		Version:     s.version,
		Codec:       s.codec,
		Handlers:    s.handlers,
		Middleware:  s.mw,
		Logger:      s.logger,
		Peer:        "host",
		Context:     hclog.WithContext(context.Background(), s.logger),
		ErrLost:     ErrConnectionLost,
		NameTimeout: helloTimeout,
		OnStream:    c.onStream,
		OnControl:   c.onControl,
		OnEnd: func() {
			s.logs.detach()
			s.events.detach()
		},
		Owner: c,
	}, ymx, g.Control)
	if err := s.claim(c); err != nil {
		return nil, g.Refuse(err)
	}
	// The streams the host opens next get the full window.
	wire.Authenticated(ycfg)
	s.expectHost() // before the hello's answer: the host may call at once
	if lvl := g.Hello.LogLevel; lvl != "" && s.cfg.LogLevel == hclog.NoLevel {
		s.logger.SetLevel(hclog.LevelFromString(lvl))
	}
	err = g.Accept(handshakewire.WorkerHello{
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
	c.greeting = g
	return c, nil
}

// errHostGone is the error the worker's pending calls to the host
// (CallHost) fail with when the worker ends the connection.
var errHostGone = fmt.Errorf("host: %w: the connection ended", ErrConnectionLost)

// serve serves the connection until it ends, then releases the worker.
func (c *hostConn) serve() {
	defer close(c.done)
	c.Serve(c.greeting.Reader)
	c.s.release(c)
}

// onStream takes the streams the worker writes: logs and events.
func (c *hostConn) onStream(name string, st *yamux.Stream) {
	switch name {
	case wire.StreamLogs:
		c.s.logs.attach(st)
	case wire.StreamEvents:
		c.s.events.attach(st)
	default:
		c.s.logger.Warn("host opened an unknown stream", "stream", name)
		st.Close()
	}
}

// onControl acts on the host's control messages.
func (c *hostConn) onControl(m handshakewire.Control, err error) (stop bool) {
	if err != nil {
		if !errors.Is(err, io.EOF) && c.Err() == nil {
			c.s.logger.Debug("control stream ended", "error", err)
		}
		c.close()
		return true
	}
	switch m.Op {
	case handshakewire.OpShutdown:
		c.s.logger.Debug("host asked the worker to shut down")
		c.shutdownRequested.Store(true)
		c.goodbye("shutdown requested by host")
		c.close()
		return true
	case handshakewire.OpGoodbye:
		c.s.logger.Debug("host disconnected", "reason", m.Reason)
		c.close()
		return true
	default:
		c.s.logger.Warn("unknown control message from host", "op", m.Op)
		return false
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
	c.SendControl(handshakewire.OpGoodbye, reason, goodbyeWriteTimeout)
}

// close ends the connection; serve finishes the clean-up.
func (c *hostConn) close() { c.Close(errHostGone) }
