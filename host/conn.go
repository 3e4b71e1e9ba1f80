package host

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

// conn is one connection to the worker (internal/peer), with the hello the
// worker answered and the control stream's reader past it.
type conn struct {
	*peer.Conn
	hello handshakewire.WorkerHello
	start func() // starts its goroutines (install)
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
	control, br, wh, err := peer.Greet(ctx, ymx, handshakewire.HostHello{
		Token:           w.token,
		ProtocolVersion: w.version,
		Serializer:      w.cfg.Serializer.Name(),
		Fingerprint:     w.fp,
		PID:             os.Getpid(),
		LogLevel:        w.cfg.LogLevel.String(),
		Messages:        w.cfg.Handlers.Names(),
	}, helloTimeout)
	if err != nil {
		return nil, err
	}
	if w.pid == 0 {
		w.pid = wh.PID
	}
	pc := peer.New(peer.Config{
		Role:       peer.Host,
		Version:    w.version,
		Codec:      w.codec,
		SendCodec:  w.codec.WithPeerLimits("worker", wh.MaxFrameSize, wh.MaxRawSize),
		Handlers:   w.cfg.Handlers,
		Middleware: w.mw,
		Logger:     w.logger,
		Peer:       fmt.Sprintf("worker %q", w.cfg.Name),
		Context:    hclog.WithContext(context.Background(), w.logger),
		ErrLost:    ErrConnectionLost,
		Lost:       w.lostError,
		OnEvent:    w.onEvent,
		OnStream: func(name string, st *yamux.Stream) {
			if name == wire.StreamLogs {
				w.readLogs(st)
			}
		},
		OnControl: func(m handshakewire.Control, err error) bool {
			if err == nil && m.Op == handshakewire.OpGoodbye {
				w.logger.Debug("worker said goodbye", "worker", w.cfg.Name, "reason", m.Reason)
			}
			return false
		},
		Unexpected:   w.unexpected,
		Unknown:      w.unknownReplies,
		StallTimeout: rawStallTimeout,
		Owner:        w,
	}, ymx, control)
	if err := pc.Open(); err != nil {
		return nil, err
	}
	return &conn{Conn: pc, hello: wh, start: func() { pc.Start(br) }}, nil
}

// lostError is the error pending calls fail with when the connection
// breaks: the worker's exit status and stderr tail if it exited.
func (w *Worker) lostError(cause error) error {
	err := fmt.Errorf("worker %q: %w: %v", w.cfg.Name, ErrConnectionLost, cause)
	if p := w.proc; p != nil {
		if e := p.waitExitIfDying(lostExitWait); e != nil {
			err = e
		}
	}
	return err
}

// sendControl writes one control message, waiting at most a second.
func (c *conn) sendControl(op, reason string) {
	c.SendControl(op, reason, controlWriteTimeout)
}

// err returns why the connection failed, or nil while it works.
func (c *conn) err() error { return c.Err() }
