package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/metalog"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
	"github.com/isolated-workers/isolated-workers-go/internal/ratelog"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// ErrNotLaunchedByHost is returned by ServeContext when the magic cookie is
// missing: the binary was started by hand, not by its host.
var ErrNotLaunchedByHost = handshake.ErrNotLaunchedByHost

// ExitStuckHandlers is the exit status of Serve when handlers still ran
// after StopGrace (see StuckHandlersError).
const ExitStuckHandlers = 3

// Serve runs the worker until its host lets it go, then exits the process:
// status 0 after a clean stop, ExitStuckHandlers when handlers ignored
// their cancelled context for StopGrace, 1 after another error. Started by
// hand (no magic cookie) it prints an explanation and exits 1. SIGTERM and
// SIGINT stop it cleanly. Before it exits, a worker that leads its own
// process group (as a host starts it) kills the other members of that
// group: the processes it started and left behind. Use ServeContext to
// embed a worker or to test one.
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
	// Take down what the worker started, before anything that may block or
	// fail: the host may be gone, and with it the reader of stderr.
	if proc.IsGroupLeader() {
		proc.SignalGroupOthers(os.Getpid(), syscall.SIGKILL)
	}
	signal.Ignore(syscall.SIGPIPE) // a write to a dead host's stderr pipe fails instead of killing
	var stuck *StuckHandlersError
	switch {
	case errors.As(err, &stuck):
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
		os.Exit(ExitStuckHandlers)
	case err != nil:
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// RunningHandler names a handler that was still running.
type RunningHandler struct {
	Type string // the request's message type
	TxID string // the request's transaction id
}

// StuckHandlersError is returned by ServeContext when the worker was
// stopping (its host gone, asked to stop, or ctx cancelled), cancelled its
// handlers, and some still ran after StopGrace. ServeContext returns
// without waiting for them (their goroutines keep running); Serve exits
// the process with ExitStuckHandlers.
type StuckHandlersError struct {
	Grace    time.Duration
	Handlers []RunningHandler
}

func (e *StuckHandlersError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stopped with %d handler(s) still running %v after they were cancelled (StopGrace): ", len(e.Handlers), e.Grace)
	for i, h := range e.Handlers {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q (txid %s)", h.Type, h.TxID)
	}
	if len(e.Handlers) == 0 {
		b.WriteString("none by name (a connection was still closing)")
	}
	return b.String()
}

// ServeContext runs the worker until ctx is cancelled, the host asks it to
// stop, the host goes away (DisconnectBehavior ExitOnDisconnect), or no host
// connects within HostConnectTimeout. It returns nil after a clean stop.
// When it stops it cancels every running handler and waits up to
// StopGrace for them; handlers that ignore their context past that give a
// *StuckHandlersError naming them, and are left running.
//
// It reads the handshake from the environment the host set (unsetting
// those variables, the auth token among them, so processes the worker
// starts do not inherit them), reports start-up failures to the host on
// the ready pipe, listens on the socket the host chose (mode 0600) and
// then writes the ready line. When it returns, the socket is removed, and
// so is its directory if that is the host's private iw-* directory and
// now empty.
func ServeContext(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	realEnv := cfg.Getenv == nil
	cfg.setDefaults()
	env, err := handshakewire.ParseEnv(cfg.Handshake, cfg.Getenv)
	if realEnv && !errors.Is(err, ErrNotLaunchedByHost) {
		handshakewire.UnsetEnv(cfg.Handshake)
	}
	var cookie *handshakewire.CookieMismatchError
	if err != nil && !errors.As(err, &cookie) {
		return err
	}
	ready := os.NewFile(uintptr(env.ReadyFD), "ready-pipe")
	if ready == nil {
		return fmt.Errorf("handshake: ready pipe descriptor %d is not open", env.ReadyFD)
	}
	fail := func(err error) error {
		ready.WriteString(handshakewire.ErrorLineFor(err))
		ready.Close()
		return err
	}
	if cookie != nil {
		return fail(cookie)
	}
	if env.Serializer != cfg.Serializer.Name() {
		return fail(&handshake.SerializerMismatchError{Host: env.Serializer, Worker: cfg.Serializer.Name()})
	}
	version, err := handshakewire.Negotiate(env.ProtocolVersions, cfg.versions())
	if err != nil {
		return fail(err)
	}
	os.Remove(env.SocketPath) // a stale socket from an earlier run of the same launch
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: env.SocketPath, Net: "unix"})
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", env.SocketPath, err))
	}
	ln.SetUnlinkOnClose(true)
	defer removeSocketDir(env.SocketPath)
	if err := restrictSocket(env); err != nil { // per OS: socket_unix.go, socket_windows.go
		ln.Close()
		return fail(err)
	}
	s := newServer(cfg, env, version, ln)
	if _, err := ready.WriteString(handshakewire.ReadyLine(version, os.Getpid())); err != nil {
		ready.Close()
		s.stop()
		return fmt.Errorf("write ready line: %w", err)
	}
	ready.Close()
	s.run(ctx)
	return s.stop()
}

// removeSocketDir removes the socket (a listener closed by a signal or a
// crash leaves it) and its directory when it is the host's private iw-*
// directory and nothing else is left in it (a detached worker's log file
// stays, and with it the directory).
func removeSocketDir(socketPath string) {
	os.Remove(socketPath)
	if dir := filepath.Dir(socketPath); strings.HasPrefix(filepath.Base(dir), "iw-") {
		os.Remove(dir) // fails, harmlessly, unless empty
	}
}

// server is one running worker: its listener, handlers, and at most one
// connected host at a time.
type server struct {
	cfg      Config
	env      handshakewire.Env
	version  int
	handlers HandlerSet
	names    []string
	codec    *wire.Codec
	mw       shared.Middleware
	caller   peer.Caller // the worker's calls to the host (CallHost)
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
	// Drops since start, and how many of them hosts were told about.
	droppedEvents, droppedLogs atomic.Uint64
	toldEvents, toldLogs       uint64 // owned by the events outbox's writer (notice)

	connected chan *hostConn
	stopping  chan struct{}
	wg        sync.WaitGroup

	mu      sync.Mutex
	active  *hostConn
	leaving bool // a host's connection ended and the worker stops because of it
}

func newServer(cfg Config, env handshakewire.Env, version int, ln *net.UnixListener) *server {
	hs := cfg.handlersFor(version)
	s := &server{
		cfg: cfg, env: env, version: version,
		handlers:  hs,
		names:     hs.Names(),
		mw:        shared.Chain(cfg.Middleware),
		fp:        shared.Fingerprint(cfg.Serializer),
		ln:        ln,
		connected: make(chan *hostConn),
		stopping:  make(chan struct{}),

		unauthenticated: make(chan struct{}, maxUnauthenticated),
	}
	s.caller = peer.Caller{Middleware: s.mw, Chain: cfg.Middleware, TxID: cfg.TxIDGenerator, Acquire: s.acquire}
	s.codec = wire.NewCodec(cfg.Serializer, cfg.MaxFrameSize, cfg.MaxRawSize, s.names).WithOwner("worker")
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
	s.logger = metalog.New(inner, level, os.Stderr)
	s.refusals = ratelog.New(refusalLogInterval, s.logRefusals)
	serving.Store(s)
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

// run waits for hosts and serves them, one at a time, and returns when the
// worker should stop. It does not wait for a connection's handlers: stop
// does, bounded by StopGrace.
func (s *server) run(ctx context.Context) {
	s.wg.Add(1)
	go s.acceptLoop()
	for {
		c := s.waitForHost(ctx)
		if c == nil {
			return
		}
		// c.ctx ends when the connection does (the session closed, the
		// host said goodbye or asked the worker to stop).
		select {
		case <-ctx.Done():
			c.goodbye("worker stopping: context cancelled")
			return
		case <-c.Done():
		}
		if c.shutdownRequested.Load() {
			return
		}
		if s.cfg.DisconnectBehavior == ExitOnDisconnect {
			return
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
	for logged := false; ; logged = true {
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
		if !logged {
			s.logger.Debug("a new host waits for the connected one to disconnect", "host_pid", c.hostPID, "connected_host_pid", prev.hostPID, "claim_wait", claimWait.String())
		}
		select {
		case <-prev.done:
			if prev.shutdownRequested.Load() || s.cfg.DisconnectBehavior == ExitOnDisconnect {
				return errLeaving
			}
		case <-s.stopping:
			return &peer.Refusal{Code: handshake.CodeShuttingDown, Err: errors.New("worker is shutting down; start a new worker")}
		case <-deadline.C:
			return &peer.Refusal{Code: handshake.CodeBusy, Err: fmt.Errorf("worker already serves a host (pid %d); disconnect it first", prev.hostPID)}
		}
	}
}

// errLeaving refuses a host that connects after the previous one's end
// made the worker stop.
var errLeaving = &peer.Refusal{Code: handshake.CodeShuttingDown, Err: errors.New("worker is shutting down: its previous host disconnected and its DisconnectBehavior is ExitOnDisconnect; start a new worker (or give this one plugin.KeepAlive)")}

// release ends c's claim on the worker. If the worker stops because c
// ended (a shutdown request, or DisconnectBehavior ExitOnDisconnect), it is marked
// leaving, so a host that connects meanwhile is refused instead of being
// accepted and then dropped.
func (s *server) release(c *hostConn) {
	s.mu.Lock()
	if s.active == c {
		s.active = nil
	}
	if c.shutdownRequested.Load() || s.cfg.DisconnectBehavior == ExitOnDisconnect {
		s.leaving = true
	}
	s.mu.Unlock()
}

// stop stops accepting, ends the active connection (which cancels its
// handlers) and waits up to StopGrace for every goroutine the server
// started. Handlers still running then are named in a
// *StuckHandlersError; the server's remaining clean-up happens when they
// return.
func (s *server) stop() error {
	serving.CompareAndSwap(s, nil)
	close(s.stopping)
	s.ln.Close()
	s.mu.Lock()
	c := s.active
	s.mu.Unlock()
	grace := time.NewTimer(s.cfg.StopGrace)
	defer grace.Stop()
	if c != nil {
		// Let the handlers end (and reply) on an open connection; close it
		// only then, or just before the worker exits with handlers stuck,
		// so that the host sees the connection end with the worker's exit.
		if !c.Drain(grace.C) {
			err := s.stuck(c)
			go s.finish() // ends when the stuck handlers do; Serve exits first
			return err
		}
		c.close()
	}
	done := make(chan struct{})
	go func() {
		s.finish()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-grace.C:
	}
	s.mu.Lock()
	c = s.active
	s.mu.Unlock()
	return s.stuck(c)
}

// finish waits for every goroutine the server started, then closes its
// queues.
func (s *server) finish() {
	s.wg.Wait()
	s.refusals.Flush()
	s.logs.close()
	s.events.close()
}

// stuck reports the handlers of c that still run after StopGrace, and
// closes c: the worker exits next.
func (s *server) stuck(c *hostConn) error {
	err := &StuckHandlersError{Grace: s.cfg.StopGrace}
	if c != nil {
		err.Handlers = c.runningHandlers()
		c.close()
	}
	s.logger.Error("handlers ignored their cancelled context", "error", err.Error())
	return err
}

// runningHandlers lists the connection's running handlers, by txid.
func (c *hostConn) runningHandlers() []RunningHandler {
	out := make([]RunningHandler, 0)
	for _, r := range c.Running() {
		out = append(out, RunningHandler(r))
	}
	return out
}
