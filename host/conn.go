package host

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

// conn is one connection to the worker: a yamux session with its control,
// calls, logs and events streams.
type conn struct {
	w       *Worker
	ymx     *yamux.Session
	control net.Conn
	calls   *wire.Writer
	bulk    *wire.Writer
	hello   handshake.WorkerHello

	mu      sync.Mutex
	pending map[string]*call
	failErr error // set once: every pending and later call fails with it
	// eventsErr is set when the events reader stopped: calls no longer
	// wait for their events.
	eventsErr error

	wg sync.WaitGroup // reader goroutines
}

// connect dials the worker with the Connection policy and runs the hello.
func (w *Worker) connect(ctx context.Context) (*conn, error) {
	policy := retry.Policy{
		MaxAttempts: w.cfg.Connection.Attempts,
		BaseDelay:   w.cfg.Connection.Delay,
		MaxDelay:    w.cfg.Connection.MaxDelay,
		DelayFunc:   w.cfg.Connection.DelayFunc,
		Retryable:   func(error) bool { return true },
	}
	var nc net.Conn
	err := retry.Do(ctx, policy, func(ctx context.Context, _ int) error {
		var d net.Dialer
		var err error
		nc, err = d.DialContext(ctx, "unix", w.socketPath)
		return err
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s: %w", w.socketPath, cause)
		}
		return nil, fmt.Errorf("connect to %s: %w", w.socketPath, err)
	}
	ymx, err := yamux.Client(wire.FrameConn(nc), wire.YamuxConfig())
	if err != nil {
		nc.Close()
		return nil, err
	}
	c, err := w.helloConn(ctx, ymx)
	if err != nil {
		ymx.Close()
		return nil, err
	}
	return c, nil
}

func (w *Worker) helloConn(ctx context.Context, ymx *yamux.Session) (*conn, error) {
	control, err := openStream(ymx, wire.StreamControl)
	if err != nil {
		return nil, fmt.Errorf("open control stream: %w", err)
	}
	err = handshake.WriteHello(control, handshake.HostHello{
		Token:           w.token,
		ProtocolVersion: w.version,
		Serializer:      w.cfg.Serializer.Name(),
		Fingerprint:     w.fp,
		PID:             os.Getpid(),
		LogLevel:        w.cfg.LogLevel.String(),
	})
	if err != nil {
		return nil, fmt.Errorf("write hello: %w", err)
	}
	deadline := time.Now().Add(defaultHelloTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	control.SetReadDeadline(deadline)
	br := bufio.NewReader(control)
	var wh handshake.WorkerHello
	if err := handshake.ReadHello(br, &wh); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("read worker hello: %w", err)
	}
	control.SetReadDeadline(time.Time{})
	switch {
	case wh.Error != "":
		return nil, &RefusedError{Reason: wh.Error}
	case wh.Serializer != w.cfg.Serializer.Name():
		return nil, &handshake.SerializerMismatchError{Host: w.cfg.Serializer.Name(), Worker: wh.Serializer}
	case wh.Fingerprint != w.fp:
		return nil, &handshake.SerializerCollisionError{Name: wh.Serializer, Host: w.fp, Worker: wh.Fingerprint}
	case wh.ProtocolVersion != w.version:
		return nil, fmt.Errorf("worker speaks protocol version %d, host asked for %d", wh.ProtocolVersion, w.version)
	}
	if w.pid == 0 {
		w.pid = wh.PID
	}
	c := &conn{w: w, ymx: ymx, control: control, hello: wh, pending: make(map[string]*call)}
	calls, err := openStream(ymx, wire.StreamCalls)
	if err != nil {
		return nil, fmt.Errorf("open calls stream: %w", err)
	}
	logs, err := openStream(ymx, wire.StreamLogs)
	if err != nil {
		return nil, fmt.Errorf("open logs stream: %w", err)
	}
	events, err := openStream(ymx, wire.StreamEvents)
	if err != nil {
		return nil, fmt.Errorf("open events stream: %w", err)
	}
	bulk, err := openStream(ymx, wire.StreamBulk)
	if err != nil {
		return nil, fmt.Errorf("open bulk stream: %w", err)
	}
	c.calls, c.bulk = wire.NewWriter(calls), wire.NewWriter(bulk)
	maxFrame := w.codec.MaxFrame()
	term := w.codec.Terminator()
	c.goRead(func() { c.readReplies(frame.NewReader(bufio.NewReaderSize(calls, 64<<10), term, maxFrame)) })
	c.goRead(func() { c.readReplies(frame.NewReader(bufio.NewReaderSize(bulk, 64<<10), term, maxFrame)) })
	c.goRead(func() { c.readLogs(bufio.NewReaderSize(logs, 16<<10)) })
	c.goRead(func() { c.readEvents(frame.NewReader(bufio.NewReaderSize(events, 16<<10), term, maxFrame)) })
	c.goRead(func() { c.readControl(br) })
	return c, nil
}

func openStream(ymx *yamux.Session, name string) (*yamux.Stream, error) {
	st, err := ymx.OpenStream()
	if err != nil {
		return nil, err
	}
	if err := wire.WriteStreamName(st, name); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func (c *conn) goRead(fn func()) {
	c.wg.Add(1)
	c.w.wg.Add(1)
	go func() {
		defer c.w.wg.Done()
		defer c.wg.Done()
		fn()
	}()
}

// err returns why the connection failed, or nil while it works.
func (c *conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failErr
}

// fail fails every pending call with err, once; later calls on c fail with
// the first error.
func (c *conn) fail(err error) {
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

// close fails pending calls with err (if nothing failed them before) and
// closes the session.
func (c *conn) close(err error) {
	c.fail(err)
	c.ymx.Close()
}

// lost is called by a reader whose stream broke. If the worker process
// exited, pending calls get its exit status and stderr tail.
func (c *conn) lost(cause error) {
	if c.err() != nil {
		c.ymx.Close()
		return
	}
	err := fmt.Errorf("worker %q: %w: %v", c.w.cfg.Name, ErrConnectionLost, cause)
	if p := c.w.proc; p != nil {
		if e := p.waitExit(250 * time.Millisecond); e != nil {
			err = e
		}
	}
	if err != nil {
		c.w.logger.Debug("connection to worker ended", "worker", c.w.cfg.Name, "error", err)
	}
	c.close(err)
}

// sendControl writes one control message, waiting at most a second.
func (c *conn) sendControl(op, reason string) {
	b, _ := json.Marshal(handshake.Control{Op: op, Reason: reason})
	c.control.SetWriteDeadline(time.Now().Add(time.Second))
	c.control.Write(append(b, '\n'))
}

// readControl reads the worker's control messages (its goodbye).
func (c *conn) readControl(br *bufio.Reader) {
	for {
		var m handshake.Control
		if err := handshake.ReadHello(br, &m); err != nil {
			return
		}
		if m.Op == handshake.OpGoodbye {
			c.w.logger.Debug("worker said goodbye", "worker", c.w.cfg.Name, "reason", m.Reason)
		}
	}
}

// readReplies delivers results and errors to the calls waiting for them.
func (c *conn) readReplies(r *frame.Reader) {
	for {
		h, body, err := c.w.codec.Read(r)
		if err != nil {
			c.lost(err)
			return
		}
		if h.Kind != shared.KindResult && h.Kind != shared.KindError {
			c.w.logger.Warn("unexpected message from worker", "worker", c.w.cfg.Name, "kind", h.Kind, "type", h.Type)
			continue
		}
		c.mu.Lock()
		cl := c.pending[h.ID]
		switch {
		case cl == nil:
		case cl.replied:
			cl = nil // a second reply for the id: the first one won
		case h.Events > cl.events:
			// Some of its events are still to come: the call stays in
			// pending, where the events reader counts them.
			cl.replied, cl.want = true, h.Events
		default:
			delete(c.pending, h.ID)
		}
		c.mu.Unlock()
		if cl == nil {
			c.w.logger.Debug("reply for a call no longer waiting", "worker", c.w.cfg.Name, "txid", h.ID, "type", h.Type)
		} else {
			r := cl.decode(&h, body)
			r.events = h.Events
			cl.done <- r
		}
	}
}
