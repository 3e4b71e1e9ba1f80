package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// ErrNotLaunchedByHost is returned by ServeContext when the magic cookie is
// missing: the binary was started by hand, not by its host.
var ErrNotLaunchedByHost = handshake.ErrNotLaunchedByHost

// Serve runs the worker until its host lets it go, then exits the process:
// status 0 after a clean stop, 1 after an error. Started by hand (no magic
// cookie) it prints an explanation and exits 1. SIGTERM and SIGINT stop it
// cleanly. Use ServeContext to embed a worker or to test one.
func Serve(cfg Config) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := ServeContext(ctx, cfg)
	stop()
	if errors.Is(err, ErrNotLaunchedByHost) {
		fmt.Fprintf(os.Stderr, "%s is a worker plugin, launched by its host: it is not meant to be run directly.\n"+
			"Start it from a host program with host.Start (github.com/isolated-workers/isolated-workers-go/host).\n",
			os.Args[0])
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ServeContext runs the worker until ctx is cancelled, the host asks it to
// stop, the host goes away (DisconnectBehavior Shutdown), or no host
// connects within HostConnectTimeout. It returns nil after a clean stop.
//
// It reads the handshake from the environment the host set, reports start-up
// failures to the host on the ready pipe, listens on the socket the host
// chose (mode 0600) and then writes the ready line.
func ServeContext(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.setDefaults()
	env, err := handshake.ParseEnv(cfg.Handshake, cfg.Getenv)
	if err != nil {
		return err
	}
	ready := os.NewFile(uintptr(env.ReadyFD), "ready-pipe")
	if ready == nil {
		return fmt.Errorf("handshake: ready pipe descriptor %d is not open", env.ReadyFD)
	}
	fail := func(err error) error {
		ready.WriteString(handshake.ErrorLine(err.Error()))
		ready.Close()
		return err
	}
	if env.Serializer != cfg.Serializer.Name() {
		return fail(&handshake.SerializerMismatchError{Host: env.Serializer, Worker: cfg.Serializer.Name()})
	}
	version, err := handshake.Negotiate(env.ProtocolVersions, cfg.versions())
	if err != nil {
		return fail(err)
	}
	os.Remove(env.SocketPath) // a stale socket from an earlier run of the same launch
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: env.SocketPath, Net: "unix"})
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", env.SocketPath, err))
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(env.SocketPath, 0o600); err != nil {
		ln.Close()
		return fail(fmt.Errorf("chmod socket %s: %w", env.SocketPath, err))
	}
	s := newServer(cfg, env, version, ln)
	defer s.close()
	if _, err := ready.WriteString(handshake.ReadyLine(version, os.Getpid())); err != nil {
		ready.Close()
		return fmt.Errorf("write ready line: %w", err)
	}
	ready.Close()
	return s.run(ctx)
}

// server is one running worker: its listener, handlers, and at most one
// connected host at a time.
type server struct {
	cfg      Config
	env      handshake.Env
	version  int
	handlers map[string]*Handler
	names    []string
	codec    *wire.Codec
	mw       shared.Middleware
	fp       string
	ln       *net.UnixListener
	logger   hclog.Logger
	logs     *outbox
	events   *outbox

	// Drops since start, and how many of them hosts were told about.
	droppedEvents, droppedLogs atomic.Uint64
	toldEvents, toldLogs       uint64 // owned by the events outbox's writer (notice)

	connected chan *hostConn
	stopping  chan struct{}
	wg        sync.WaitGroup

	mu     sync.Mutex
	active *hostConn
}

func newServer(cfg Config, env handshake.Env, version int, ln *net.UnixListener) *server {
	hs := cfg.handlersFor(version)
	s := &server{
		cfg: cfg, env: env, version: version,
		handlers:  hs.byName,
		names:     hs.Names(),
		mw:        shared.Chain(cfg.Middleware),
		fp:        shared.Fingerprint(cfg.Serializer),
		ln:        ln,
		connected: make(chan *hostConn),
		stopping:  make(chan struct{}),
	}
	s.codec = wire.NewCodec(cfg.Serializer, cfg.MaxFrameSize, cfg.MaxRawSize, s.names)
	// The drop notice travels on the events stream, before the events
	// queued: a log record dropped wakes the events writer to send it.
	s.events = newOutbox(cfg.LogBuffer, &s.droppedEvents, s.dropNotice, nil)
	s.logs = newOutbox(cfg.LogBuffer, &s.droppedLogs, nil, s.events.kick)
	inner := cfg.Logger
	if inner == nil {
		inner = hclog.New(&hclog.LoggerOptions{
			Name:       "", // the host names the sub-logger after the worker
			Level:      hclog.Trace,
			JSONFormat: true,
			Output:     outboxWriter{s.logs, cfg.LogWait},
		})
	}
	level := cfg.LogLevel
	if level == hclog.NoLevel {
		level = hclog.Info // until the hello tells the host's level
	}
	s.logger = shared.NewMetaLogger(inner, level, os.Stderr)
	return s
}

// outboxWriter is the worker logger's output: each Write is one hclog
// record, queued for the host. While a host is connected a full queue makes
// the logger wait, at most wait; then the record is dropped and counted
// (the host is told).
type outboxWriter struct {
	o    *outbox
	wait time.Duration
}

func (w outboxWriter) Write(b []byte) (int, error) {
	// The logger reuses b: the outbox keeps a copy. A record that is
	// dropped is counted and reported by the outbox; the logger has no use
	// for the error.
	w.o.push(nil, append([]byte(nil), b...), w.wait, nil)
	return len(b), nil
}

// expectHost says a host connected: until it opens its logs and events
// streams, records queue for it, and full queues slow producers down rather
// than drop (a handler may emit before the events stream is open).
func (s *server) expectHost() {
	s.logs.expect()
	s.events.expect()
}

// dropCounts returns the drops since start.
func (s *server) dropCounts() shared.Dropped {
	return shared.Dropped{Events: s.droppedEvents.Load(), Logs: s.droppedLogs.Load()}
}

// dropNotice returns the envelope of a shared.DroppedEvent for the drops
// no host was told about yet, or nil. It runs on the events outbox's
// writer goroutine only.
func (s *server) dropNotice() []byte {
	d := s.dropCounts()
	n := shared.Dropped{Events: d.Events - s.toldEvents, Logs: d.Logs - s.toldLogs}
	if n.Events == 0 && n.Logs == 0 {
		return nil
	}
	h := wire.Header{Version: s.version, Kind: shared.KindEvent, Type: shared.DroppedEvent.Name()}
	out, _, err := s.codec.Encode(nil, &h, n)
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: cannot encode the drop notice (%d events, %d log records dropped): %v\n", n.Events, n.Logs, err)
		return nil
	}
	s.toldEvents, s.toldLogs = d.Events, d.Logs
	return out
}

// run waits for hosts and serves them, one at a time.
func (s *server) run(ctx context.Context) error {
	s.wg.Add(1)
	go s.acceptLoop()
	for {
		c := s.waitForHost(ctx)
		if c == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			c.goodbye("worker stopping: context cancelled")
			c.close()
			<-c.done
			return nil
		case <-c.done:
		}
		if c.shutdownRequested.Load() {
			return nil
		}
		if s.cfg.DisconnectBehavior == Shutdown {
			return nil
		}
		s.logger.Info("host disconnected; waiting for a new host", "host_connect_timeout", s.cfg.HostConnectTimeout.String())
	}
}

// waitForHost waits for a host to pass the hello, at most
// HostConnectTimeout. It returns nil when the worker should stop instead.
func (s *server) waitForHost(ctx context.Context) *hostConn {
	var expired <-chan time.Time
	if d := *s.cfg.HostConnectTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-ctx.Done():
		s.logger.Info("stopping: context cancelled", "cause", context.Cause(ctx))
		return nil
	case <-expired:
		s.logger.Warn("no host connected in time; shutting down", "host_connect_timeout", s.cfg.HostConnectTimeout.String())
		return nil
	case c := <-s.connected:
		return c
	}
}

func (s *server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.stopping:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.logger.Error("accept failed", "error", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(conn)
		}()
	}
}

// claimWait bounds how long a new host waits for the previous connection's
// clean-up. A host that exits (or disconnects) and a new one that connects at
// once race the worker noticing the end of the old session; the new one
// waits for that instead of being refused.
const claimWait = 2 * time.Second

// claim makes c the active host connection. If another connection is active
// it waits up to claimWait for it to end; a host that is still connected
// after that keeps the worker and c is refused.
func (s *server) claim(c *hostConn) error {
	deadline := time.NewTimer(claimWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		prev := s.active
		if prev == nil {
			s.active = c
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-prev.done:
			if prev.shutdownRequested.Load() || s.cfg.DisconnectBehavior == Shutdown {
				return errors.New("worker is shutting down: its previous host disconnected and its DisconnectBehavior is Shutdown; start a new worker (or give this one plugin.KeepAlive)")
			}
		case <-s.stopping:
			return errors.New("worker is shutting down; start a new worker")
		case <-deadline.C:
			return fmt.Errorf("worker already serves a host (pid %d); disconnect it first", prev.hostPID)
		}
	}
}

func (s *server) release(c *hostConn) {
	s.mu.Lock()
	if s.active == c {
		s.active = nil
	}
	s.mu.Unlock()
}

// close stops accepting, ends the active connection and waits for every
// goroutine the server started.
func (s *server) close() {
	close(s.stopping)
	s.ln.Close()
	s.mu.Lock()
	c := s.active
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
	s.wg.Wait()
	s.logs.close()
	s.events.close()
}
