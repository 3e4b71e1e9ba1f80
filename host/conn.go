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
	calls   *wire.Sender
	bulk    *wire.Sender
	hello   handshake.WorkerHello
	codec   *wire.Codec // the worker's codec, refusing what the worker said it would refuse

	// The streams the readers read, kept until start launches them.
	br                            *bufio.Reader // the control stream, past the hello
	callsR, bulkR, logsR, eventsR net.Conn

	mu      sync.Mutex
	pending map[string]*call
	failErr error // set once: every pending and later call fails with it
	// abandoned holds the ids of calls that gave up (deadline, cancel), the
	// last maxAbandoned of them, so that their late replies are expected.
	abandoned    map[string]struct{}
	abandonedIDs []string
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
	ycfg := wire.YamuxConfig()
	// A stream the worker has not accepted yet counts against its accept
	// backlog, beyond which yamux resets new streams: with the same
	// backlog, the host's OpenStream waits for the worker's accept (its
	// ACK) instead, however many streaming calls start at once.
	ycfg.AcceptBacklog = wire.PreAuthAcceptBacklog
	ymx, err := yamux.Client(wire.FrameConn(nc), ycfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	// A cancelled ctx (Close stopping a Reconnect) ends the hello at once,
	// not after the hello timeout.
	stop := context.AfterFunc(ctx, func() { ymx.Close() })
	c, err := w.helloConn(ctx, ymx)
	if !stop() && err == nil {
		err = fmt.Errorf("connect to %s: %w", w.socketPath, context.Cause(ctx))
	}
	if err != nil {
		ymx.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s: %w", w.socketPath, context.Cause(ctx))
		}
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
	deadline := time.Now().Add(helloTimeout)
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
		return nil, &RefusedError{Reason: wh.Error, Code: wh.Code, cause: handshake.ErrorFromCode(wh.Code, wh.Fields)}
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
	c := &conn{w: w, ymx: ymx, control: control, hello: wh, pending: make(map[string]*call), abandoned: make(map[string]struct{}),
		codec: w.codec.WithPeerLimits("worker", wh.MaxFrameSize, wh.MaxRawSize)}
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
	c.br, c.callsR, c.bulkR, c.logsR, c.eventsR = br, calls, bulk, logs, events
	c.calls = wire.NewSender(calls, wire.MaxQueued, ymx.CloseChan())
	c.bulk = wire.NewSender(bulk, wire.MaxQueued, ymx.CloseChan())
	return c, nil
}

// start launches the goroutines that read the worker's streams and write
// the host's. The Worker calls it once it has installed c (install), so no
// goroutine of a connection that Close never saw can outlive Close.
func (c *conn) start() {
	maxFrame := c.w.codec.MaxFrame()
	term := c.w.codec.Terminator()
	c.goRead(c.calls.Run)
	c.goRead(c.bulk.Run)
	callsR := frame.NewReader(bufio.NewReaderSize(c.callsR, 64<<10), term, maxFrame)
	callsR.SetStallTimeout(rawStallTimeout, c.callsR.SetReadDeadline)
	bulkR := frame.NewReader(bufio.NewReaderSize(c.bulkR, 64<<10), term, maxFrame)
	bulkR.SetStallTimeout(rawStallTimeout, c.bulkR.SetReadDeadline)
	c.goRead(func() { c.readReplies(callsR) })
	c.goRead(func() { c.readReplies(bulkR) })
	c.goRead(func() { c.readLogs(bufio.NewReaderSize(c.logsR, 16<<10)) })
	c.goRead(func() { c.readEvents(frame.NewReader(bufio.NewReaderSize(c.eventsR, 16<<10), term, maxFrame)) })
	c.goRead(func() { c.readControl(c.br) })
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
		if e := p.waitExitIfDying(lostExitWait); e != nil {
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
	c.control.SetWriteDeadline(time.Now().Add(controlWriteTimeout))
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
// A reply too large for the host fails its call alone (the reader skips it
// and stays in step); a reply whose raw body stalls fails its call, and the
// connection, whose stream is then out of step.
func (c *conn) readReplies(r *frame.Reader) {
	for {
		h, body, err := c.w.codec.Read(r)
		if err != nil {
			var tl *shared.FrameTooLargeError
			switch {
			case errors.As(err, &tl) && h.ID != "":
				c.w.logger.Warn("reply too large; failing its call", "worker", c.w.cfg.Name, "txid", h.ID, "type", h.Type, "error", tl)
				if cl := c.take(&h); cl != nil {
					cl.done <- reply{err: fmt.Errorf("reply from worker %q: %w", c.w.cfg.Name, tl), events: h.Events}
				}
				continue
			case errors.As(err, &tl):
				// No call to fail, and whatever payload followed the header
				// would be read as the next header: the stream is lost.
				c.close(fmt.Errorf("worker %q: %w: %w", c.w.cfg.Name, ErrConnectionLost, tl))
				return
			case errors.Is(err, shared.ErrBodyStalled) && h.ID != "":
				if cl := c.take(&h); cl != nil {
					cl.done <- reply{err: fmt.Errorf("reply from worker %q: %s %q: %w", c.w.cfg.Name, h.Kind, h.Type, err), events: h.Events}
				}
			}
			c.lost(err)
			return
		}
		if h.Kind != shared.KindResult && h.Kind != shared.KindError {
			c.w.unexpected.Add("stream", "calls", "kind", h.Kind, "type", h.Type)
			continue
		}
		if cl := c.take(&h); cl != nil {
			r := cl.decode(&h, body) // here, while body is valid
			r.events = h.Events
			cl.done <- r
		}
	}
}

// take returns h's call if it still waits for its reply, for the caller
// to send the reply to (cl.done). A reply that says more of its call's
// events are still to come leaves the call in pending, where the events
// reader counts them (waitEvents). A reply no call waits for is logged: at
// Debug for a call that gave up, as a counted warning otherwise.
func (c *conn) take(h *wire.Header) *call {
	c.mu.Lock()
	cl := c.pending[h.ID]
	switch {
	case cl == nil:
	case cl.replied:
		cl = nil // a second reply for the id: the first one won
	case h.Events > cl.events:
		cl.replied, cl.want = true, h.Events
	default:
		delete(c.pending, h.ID)
	}
	_, late := c.abandoned[h.ID]
	delete(c.abandoned, h.ID)
	c.mu.Unlock()
	switch {
	case cl != nil:
	case late:
		c.w.logger.Debug("reply for a call no longer waiting", "worker", c.w.cfg.Name, "txid", h.ID, "type", h.Type)
	default:
		c.w.unknownReplies.Add("txid", h.ID, "type", h.Type)
	}
	return cl
}
