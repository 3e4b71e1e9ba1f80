package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
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
// stop, the host goes away (DisconnectBehavior Shutdown), or no host
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
	env, err := handshake.ParseEnv(cfg.Handshake, cfg.Getenv)
	if realEnv && !errors.Is(err, ErrNotLaunchedByHost) {
		handshake.UnsetEnv(cfg.Handshake)
	}
	if err != nil {
		return err
	}
	ready := os.NewFile(uintptr(env.ReadyFD), "ready-pipe")
	if ready == nil {
		return fmt.Errorf("handshake: ready pipe descriptor %d is not open", env.ReadyFD)
	}
	fail := func(err error) error {
		ready.WriteString(handshake.ErrorLineFor(err))
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
	defer removeSocketDir(env.SocketPath)
	if err := restrictSocket(env.SocketPath); err != nil { // per OS: socket_unix.go, socket_windows.go
		ln.Close()
		return fail(fmt.Errorf("chmod socket %s: %w", env.SocketPath, err))
	}
	s := newServer(cfg, env, version, ln)
	if _, err := ready.WriteString(handshake.ReadyLine(version, os.Getpid())); err != nil {
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
	s.codec = wire.NewCodec(cfg.Serializer, cfg.MaxFrameSize, cfg.MaxRawSize, s.names).WithOwner("worker")
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
	return s
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
		case <-c.ctx.Done():
		}
		if c.shutdownRequested.Load() {
			return
		}
		if s.cfg.DisconnectBehavior == Shutdown {
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
	for logged := false; ; logged = true {
		s.mu.Lock()
		prev := s.active
		if prev == nil {
			s.active = c
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if !logged {
			s.logger.Debug("a new host waits for the connected one to disconnect", "host_pid", c.hostPID, "connected_host_pid", prev.hostPID, "claim_wait", claimWait.String())
		}
		select {
		case <-prev.done:
			if prev.shutdownRequested.Load() || s.cfg.DisconnectBehavior == Shutdown {
				return &refusal{handshake.CodeShuttingDown, errors.New("worker is shutting down: its previous host disconnected and its DisconnectBehavior is Shutdown; start a new worker (or give this one plugin.KeepAlive)")}
			}
		case <-s.stopping:
			return &refusal{handshake.CodeShuttingDown, errors.New("worker is shutting down; start a new worker")}
		case <-deadline.C:
			return &refusal{handshake.CodeBusy, fmt.Errorf("worker already serves a host (pid %d); disconnect it first", prev.hostPID)}
		}
	}
}

// refusal is a reason to refuse a host, with its code for the hello.
type refusal struct {
	code string
	err  error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// refusalHello is the hello refusing a host for err, with the code a host
// matches (handshake.ErrorCode; a *refusal's own code).
func refusalHello(err error) handshake.WorkerHello {
	code, fields := handshake.ErrorCode(err, "")
	var r *refusal
	if code == "" && errors.As(err, &r) {
		code = r.code
	}
	return handshake.WorkerHello{Error: err.Error(), Code: code, Fields: fields}
}

func (s *server) release(c *hostConn) {
	s.mu.Lock()
	if s.active == c {
		s.active = nil
	}
	s.mu.Unlock()
}

// stop stops accepting, ends the active connection (which cancels its
// handlers) and waits up to StopGrace for every goroutine the server
// started. Handlers still running then are named in a
// *StuckHandlersError; the server's remaining clean-up happens when they
// return.
func (s *server) stop() error {
	close(s.stopping)
	s.ln.Close()
	s.mu.Lock()
	c := s.active
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.logs.close()
		s.events.close()
		close(done)
	}()
	grace := time.NewTimer(s.cfg.StopGrace)
	defer grace.Stop()
	select {
	case <-done:
		return nil
	case <-grace.C:
	}
	err := &StuckHandlersError{Grace: s.cfg.StopGrace}
	s.mu.Lock()
	c = s.active
	s.mu.Unlock()
	if c != nil {
		err.Handlers = c.runningHandlers()
	}
	s.logger.Error("handlers ignored their cancelled context", "error", err.Error())
	return err
}

// runningHandlers lists the connection's running handlers, by txid.
func (c *hostConn) runningHandlers() []RunningHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]RunningHandler, 0, len(c.running))
	for id, rc := range c.running {
		out = append(out, RunningHandler{Type: rc.typ, TxID: id})
	}
	slices.SortFunc(out, func(a, b RunningHandler) int { return strings.Compare(a.TxID, b.TxID) })
	return out
}
