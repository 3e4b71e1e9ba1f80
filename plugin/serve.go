package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/ratelog"
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

	// unauthenticated holds a token for each connection that has not
	// passed its hello (at most maxUnauthenticated); refusals logs the
	// connections refused, at most once per refusalLogInterval.
	unauthenticated chan struct{}
	refusals        *ratelog.Limiter

	connected chan *hostConn
	stopping  chan struct{}
	wg        sync.WaitGroup

	mu      sync.Mutex
	active  *hostConn
	leaving bool // a host's connection ended and the worker stops because of it
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

		unauthenticated: make(chan struct{}, maxUnauthenticated),
	}
	s.codec = wire.NewCodec(cfg.Serializer, cfg.MaxFrameSize, cfg.MaxRawSize, s.names)
	s.logs = newOutbox(cfg.LogBuffer, droppedLogNotice)
	s.events = newOutbox(cfg.LogBuffer, nil)
	inner := cfg.Logger
	if inner == nil {
		inner = hclog.New(&hclog.LoggerOptions{
			Name:       "", // the host names the sub-logger after the worker
			Level:      hclog.Trace,
			JSONFormat: true,
			Output:     outboxWriter{s.logs},
		})
	}
	level := cfg.LogLevel
	if level == hclog.NoLevel {
		level = hclog.Info // until the hello tells the host's level
	}
	s.logger = shared.NewMetaLogger(inner, level, os.Stderr)
	s.refusals = ratelog.New(refusalLogInterval, s.logRefusals)
	return s
}

// logRefusals writes one warning for refused connections.
func (s *server) logRefusals(sum ratelog.Summary) {
	if sum.Count == 1 && sum.Window == 0 {
		s.logger.Warn("refused a connection", sum.Last...)
		return
	}
	s.logger.Warn(fmt.Sprintf("refused %d connection(s) in the last %v; the last one:", sum.Count, sum.Window),
		append([]any{"refused", sum.Count}, sum.Last...)...)
}

type outboxWriter struct{ o *outbox }

func (w outboxWriter) Write(b []byte) (int, error) {
	w.o.push(b)
	return len(b), nil
}

func droppedLogNotice(n int) []byte {
	return []byte(`{"@level":"warn","@message":"worker dropped ` + strconv.Itoa(n) +
		` log records while no host was connected","@timestamp":"` + time.Now().Format(time.RFC3339Nano) + `"}` + "\n")
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
			t := time.NewTimer(acceptRetryDelay)
			select {
			case <-s.stopping:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(conn)
		}()
	}
}

// claim makes c the active host connection. If another connection is active
// it waits up to claimWait for it to end; a host that is still connected
// after that keeps the worker and c is refused.
func (s *server) claim(c *hostConn) error {
	deadline := time.NewTimer(claimWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		prev, leaving := s.active, s.leaving
		if prev == nil && !leaving {
			s.active = c
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if leaving {
			// The previous host's connection ended and released the
			// worker before c said hello; the worker stops anyway.
			return errLeaving
		}
		select {
		case <-prev.done:
			if prev.shutdownRequested.Load() || s.cfg.DisconnectBehavior == Shutdown {
				return errLeaving
			}
		case <-s.stopping:
			return errors.New("worker is shutting down; start a new worker")
		case <-deadline.C:
			return fmt.Errorf("worker already serves a host (pid %d); disconnect it first", prev.hostPID)
		}
	}
}

// errLeaving refuses a host that connects after the previous one's end
// made the worker stop.
var errLeaving = errors.New("worker is shutting down: its previous host disconnected and its DisconnectBehavior is Shutdown; start a new worker (or give this one plugin.KeepAlive)")

// release ends c's claim on the worker. If the worker stops because c
// ended (a shutdown request, or DisconnectBehavior Shutdown), it is marked
// leaving, so a host that connects meanwhile is refused instead of being
// accepted and then dropped.
func (s *server) release(c *hostConn) {
	s.mu.Lock()
	if s.active == c {
		s.active = nil
	}
	if c.shutdownRequested.Load() || s.cfg.DisconnectBehavior == Shutdown {
		s.leaving = true
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
	s.refusals.Flush()
	s.logs.close()
	s.events.close()
}
