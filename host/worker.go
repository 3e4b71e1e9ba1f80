package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/metalog"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/internal/ratelog"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Worker is a running worker process (or one attached with Attach) and the
// host's connection to it.
type Worker struct {
	cfg    Config
	logger hclog.Logger // the host's
	wlog   hclog.Logger // the worker's records, named after it
	codec  *wire.Codec
	mw     shared.Middleware
	caller peer.Caller // the host's calls to the worker
	fp     string

	dir        string // private directory; removed by Close ("" when attached)
	socketPath string
	token      string
	version    int
	pid        int
	proc       *process // nil when attached

	// calls counts calls in flight, for Shutdown. state guards the flags
	// and conn; calls take it shared.
	calls sync.WaitGroup
	state sync.RWMutex
	conn  *conn
	hello handshakewire.WorkerHello

	closing      bool
	shuttingDown bool
	dialing      *dial // a Reconnect under way; Close cancels it and waits
	closeOnce    sync.Once
	closeErr     error

	wg sync.WaitGroup // goroutines the worker owns

	// Warnings about what a worker sends that a flood could repeat
	// without end: one a second, with a count.
	unknownReplies, unexpected *ratelog.Limiter
	drops                      dropCounts // drops the worker reported (event.go)
}

func newWorker(cfg Config) *Worker {
	inner := cfg.Logger
	if inner == nil {
		inner = hclog.New(&hclog.LoggerOptions{Name: "isolated-workers", Level: hclog.Trace, Output: os.Stderr})
	}
	logger := metalog.New(inner, cfg.LogLevel, os.Stderr)
	w := &Worker{
		cfg:    cfg,
		logger: logger,
		wlog:   logger.Named(cfg.Name),
		mw:     shared.Chain(cfg.Middleware),
		codec:  wire.NewCodec(cfg.Serializer, cfg.MaxFrameSize, cfg.MaxRawSize, nil).WithOwner("host"),
		fp:     shared.Fingerprint(cfg.Serializer),

		unknownReplies: ratelog.New(warnEvery, warnCounted(logger, cfg.Name,
			"replies from worker for transaction ids the host never sent or already answered; ignored")),
		unexpected: ratelog.New(warnEvery, warnCounted(logger, cfg.Name,
			"messages of the wrong kind from worker (a result on the events stream, an event on the calls stream, ...); ignored")),
	}
	w.caller = peer.Caller{Middleware: w.mw, Chain: cfg.Middleware, TxID: cfg.TxIDGenerator, Timeout: cfg.CallTimeout, Acquire: w.acquire}
	return w
}

// warnCounted logs one summary of like events from a worker: how many, over
// what time, and the last one's attributes.
func warnCounted(logger hclog.Logger, name, msg string) func(ratelog.Summary) {
	return func(s ratelog.Summary) {
		logger.Warn(msg, append([]any{"worker", name, "count", s.Count, "window", s.Window.String()}, s.Last...)...)
	}
}

// Name returns the worker's name.
func (w *Worker) Name() string { return w.cfg.Name }

// PID returns the worker's process id.
func (w *Worker) PID() int { return w.pid }

// ProtocolVersion returns the negotiated protocol version.
func (w *Worker) ProtocolVersion() int { return w.version }

// Messages returns the message names the worker serves at the negotiated
// version, as it said in the hello.
func (w *Worker) Messages() []string {
	w.state.RLock()
	defer w.state.RUnlock()
	return w.hello.Messages
}

// IsConnected reports whether the host holds a live connection to the
// worker.
func (w *Worker) IsConnected() bool {
	w.state.RLock()
	c := w.conn
	w.state.RUnlock()
	return c != nil && c.err() == nil
}

// IsActive reports whether the worker process is alive, connected or not.
func (w *Worker) IsActive() bool {
	w.state.RLock()
	closing := w.closing
	w.state.RUnlock()
	if closing {
		return false
	}
	return w.isAlive()
}

// isAlive is IsActive without the closing check: whether the process runs.
func (w *Worker) isAlive() bool {
	if w.proc != nil {
		return w.proc.exit() == nil
	}
	return pidAlive(w.pid)
}

// Exited returns a channel closed when a worker this host started has
// exited, or nil for an attached worker.
func (w *Worker) Exited() <-chan struct{} {
	if w.proc == nil {
		return nil
	}
	return w.proc.exited
}

// dial is a Reconnect under way: the "connecting" state between
// disconnected and connected.
type dial struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the Reconnect has installed its connection or given up
}

// install makes c the worker's connection and starts its goroutines, unless
// the worker is closing: then it closes c and returns ErrWorkerClosed.
func (w *Worker) install(c *conn) error {
	w.state.Lock()
	defer w.state.Unlock()
	if w.closing {
		c.Close(ErrWorkerClosed)
		return ErrWorkerClosed
	}
	w.conn, w.hello = c, c.hello
	c.start()
	// Close waits for the connection's goroutines (handlers of the
	// worker's calls included), whichever connection it was.
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		<-c.Done()
		c.Wait()
	}()
	return nil
}

// Close fails pending calls with ErrWorkerClosed, asks the worker to stop
// (on the connection, or with SIGTERM when the host is disconnected from
// it; on Windows over a new connection), waits up to GracePeriod for it to
// exit, then kills its process group (on Windows its Job object; an
// attached worker: the process). It
// returns after every goroutine the Worker started has ended. It is
// idempotent; later calls return the first result.
func (w *Worker) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.close() })
	return w.closeErr
}

func (w *Worker) close() error {
	w.state.Lock()
	w.closing = true
	d := w.dialing
	w.state.Unlock()
	if d != nil {
		// A Reconnect is dialing: stop it and wait until it has given up,
		// so that no connection is installed behind Close's back.
		d.cancel(ErrWorkerClosed)
		<-d.done
	}
	w.state.Lock()
	c := w.conn
	w.state.Unlock()

	if c != nil {
		c.Fail(ErrWorkerClosed)
		c.sendControl(handshakewire.OpShutdown, "host closed the worker")
	} else if w.pid != os.Getpid() && w.isAlive() {
		// Disconnected: there is no connection to ask on, so ask with
		// SIGTERM, which a worker's Serve handles as a clean stop (on
		// Windows: a new connection's control stream).
		w.askStop()
	}
	switch {
	case w.proc != nil:
		if w.proc.waitExit(w.cfg.GracePeriod) == nil {
			w.logger.Warn("worker did not exit in time; killing its process group", "worker", w.cfg.Name, "pid", w.pid, "grace_period", w.cfg.GracePeriod)
		}
		w.proc.killGroup() // also reaps anything left in its group
		<-w.proc.exited
	case c != nil:
		// Attached: not our child. It is the worker as long as the
		// connection it answered on is open.
		select {
		case <-c.Session().CloseChan():
		case <-time.After(w.cfg.GracePeriod):
			// An in-process worker (plugin/plugintest) has this process's
			// pid: never signal ourselves.
			if !c.Session().IsClosed() && w.pid != os.Getpid() {
				w.logger.Warn("attached worker did not exit in time; killing it", "worker", w.cfg.Name, "pid", w.pid)
				killPID(w.pid)
			}
		}
	case w.pid != os.Getpid():
		// Attached and disconnected: wait for the SIGTERM to take effect.
		if !waitGone(w.pid, w.cfg.GracePeriod) {
			w.logger.Warn("attached worker did not exit in time; killing it", "worker", w.cfg.Name, "pid", w.pid)
			killPID(w.pid)
		}
	}
	if c != nil {
		c.Close(ErrWorkerClosed)
	}
	w.wg.Wait()
	w.unknownReplies.Flush()
	w.unexpected.Flush()
	if w.dir != "" {
		os.RemoveAll(w.dir)
	}
	return nil
}

// Shutdown stops new calls (they fail with ErrShuttingDown), waits for the
// pending ones to finish, then closes the worker. If ctx ends first, the
// remaining calls fail with ErrWorkerClosed and Shutdown returns ctx's error
// after closing.
//
// Shutdown (here and on Pool) is the one "Shutdown" in the public API: the lifecycle verb,
// named like http.Server.Shutdown (drain, then close). What a worker does
// when its host goes away is plugin.ExitOnDisconnect or plugin.KeepAlive.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.state.Lock()
	w.shuttingDown = true
	w.state.Unlock()
	done := make(chan struct{})
	go func() {
		w.calls.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("shutdown worker %q: pending calls did not finish: %w", w.cfg.Name, ctx.Err())
	}
	w.Close()
	<-done
	return err
}

// Disconnect closes the connection but not the worker: pending calls fail
// with ErrDisconnected, IsConnected becomes false and IsActive stays true. A
// worker with plugin.KeepAlive waits for Reconnect (or Attach); one with
// plugin.ExitOnDisconnect (the default) exits.
func (w *Worker) Disconnect() error {
	w.state.Lock()
	c := w.conn
	w.conn = nil
	closing := w.closing
	w.state.Unlock()
	if closing {
		return ErrWorkerClosed
	}
	if c == nil {
		return nil
	}
	c.Fail(ErrDisconnected)
	c.sendControl(handshakewire.OpGoodbye, "host disconnected")
	c.Close(ErrDisconnected)
	return nil
}

// Reconnect dials the worker again with the Connection policy. It works
// only with a worker that has plugin.KeepAlive; one that exits on
// disconnect gives ErrWorkerTerminated.
func (w *Worker) Reconnect(ctx context.Context) error {
	w.state.Lock()
	for w.dialing != nil && !w.closing {
		// Another Reconnect is dialing: wait for its outcome.
		d := w.dialing
		w.state.Unlock()
		select {
		case <-d.done:
		case <-ctx.Done():
			return fmt.Errorf("reconnect worker %q: %w", w.cfg.Name, context.Cause(ctx))
		}
		w.state.Lock()
	}
	if w.closing {
		w.state.Unlock()
		return ErrWorkerClosed
	}
	old := w.conn
	if old != nil && old.err() == nil {
		w.state.Unlock()
		return nil // already connected
	}
	ctx, cancel := context.WithCancelCause(ctx)
	d := &dial{cancel: cancel, done: make(chan struct{})}
	w.dialing = d
	w.conn = nil
	behavior := w.hello.DisconnectBehavior
	w.state.Unlock()
	defer func() {
		w.state.Lock()
		w.dialing = nil
		w.state.Unlock()
		cancel(nil)
		close(d.done)
	}()

	if old != nil {
		old.Close(ErrConnectionLost)
	}
	if behavior == handshakewire.BehaviorExit && w.proc != nil {
		select {
		case <-w.proc.exited:
		case <-ctx.Done():
		case <-time.After(w.cfg.GracePeriod):
		}
	}
	if errors.Is(context.Cause(ctx), ErrWorkerClosed) {
		return ErrWorkerClosed
	}
	if !w.isAlive() {
		return fmt.Errorf("reconnect worker %q: %w (pid %d; %s)", w.cfg.Name, ErrWorkerTerminated, w.pid, whyExited(behavior))
	}
	c, err := w.connect(ctx)
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrWorkerClosed) {
			return ErrWorkerClosed
		}
		if !w.isAlive() {
			return fmt.Errorf("reconnect worker %q: %w (pid %d; %s)", w.cfg.Name, ErrWorkerTerminated, w.pid, whyExited(behavior))
		}
		return fmt.Errorf("reconnect worker %q: %w", w.cfg.Name, err)
	}
	return w.install(c)
}

// whyExited explains why a worker with this DisconnectBehavior is gone.
func whyExited(behavior string) string {
	if behavior == handshakewire.BehaviorKeepAlive {
		return "its DisconnectBehavior is keep-alive, so it exited on its own: after HostConnectTimeout with no host, or it crashed"
	}
	return "its DisconnectBehavior is " + behavior + ", so it exits when its host disconnects"
}

// activeConn returns the connection a new call should use.
func (w *Worker) activeConn() (*conn, error) {
	switch {
	case w.closing:
		return nil, ErrWorkerClosed
	case w.shuttingDown:
		return nil, ErrShuttingDown
	case w.conn == nil:
		return nil, ErrDisconnected
	}
	return w.conn, nil
}
