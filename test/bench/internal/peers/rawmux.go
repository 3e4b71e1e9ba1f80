package peers

import (
	"bufio"
	"context"
	"io"
	"sync"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/iwproto"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/rawproto"
)

// rawMuxClient is the multiplexed floor: one yamux session (the
// multiplexer isolated-workers uses, with its settings) over the worker's
// socket. Ping and Echo run in lock-step on a stream (write, then read the
// reply on the calling goroutine; concurrent callers each take a stream of
// their own). Pipelined, for many lanes, is one more stream used as
// isolated-workers uses its calls stream: callers coalesce their requests
// into one write, and one reader goroutine hands each reply to its caller.
// It has no envelope, no serializer and no call table, so it is what yamux
// alone costs: the hand-offs through yamux's send and receive loops on
// both sides.
type rawMuxClient struct {
	*rawProc
	sess *yamux.Session

	mu   sync.Mutex
	idle []*muxStream // streams not in use, reused last in, first out

	pipeOnce sync.Once
	pipe     *rawPipe
	pipeErr  error
}

type muxStream struct {
	st   *yamux.Stream
	br   *bufio.Reader
	wbuf []byte
}

func startRawMux(ctx context.Context, bin string, opt Options) (Client, error) {
	var env []string
	if opt.WorkerTrace != "" {
		env = append(env, iwproto.TraceEnv+"="+opt.WorkerTrace)
	}
	p, conn, err := launchRaw(ctx, bin, env...)
	if err != nil {
		return nil, err
	}
	sess, err := yamux.Client(conn, rawproto.YamuxConfig())
	if err != nil {
		conn.Close()
		p.wait()
		return nil, err
	}
	return &rawMuxClient{rawProc: p, sess: sess}, nil
}

// stream takes an idle stream, or opens one.
func (c *rawMuxClient) stream() (*muxStream, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		s := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	st, err := c.sess.OpenStream()
	if err != nil {
		return nil, err
	}
	return &muxStream{st: st, br: bufio.NewReaderSize(st, 64<<10)}, nil
}

func (c *rawMuxClient) call(op byte, b []byte) ([]byte, error) {
	s, err := c.stream()
	if err != nil {
		return nil, err
	}
	s.wbuf = rawproto.AppendRequest(s.wbuf[:0], op, len(b))
	if len(b) > rawproto.SmallWrite {
		// A large body: two yamux frames cost less than copying it.
		if _, err = s.st.Write(s.wbuf); err == nil {
			_, err = s.st.Write(b)
		}
	} else {
		s.wbuf = append(s.wbuf, b...)
		_, err = s.st.Write(s.wbuf)
	}
	var out []byte
	if err == nil {
		var n int
		if n, err = rawproto.ReadLen(s.br); err == nil {
			out = make([]byte, n)
			_, err = io.ReadFull(s.br, out)
		}
	}
	if err != nil {
		s.st.Close()
		return nil, err
	}
	c.mu.Lock()
	c.idle = append(c.idle, s)
	c.mu.Unlock()
	return out, nil
}

func (c *rawMuxClient) Ping(_ context.Context, b []byte) ([]byte, error) {
	return c.call(rawproto.OpPing, b)
}

func (c *rawMuxClient) Echo(_ context.Context, b []byte) ([]byte, error) {
	return c.call(rawproto.OpEcho, b)
}

func (c *rawMuxClient) PingStruct(context.Context, string) (string, error) {
	return "", ErrUnsupported
}

// Pipelined returns a caller on a stream of its own that keeps many
// requests in flight.
func (c *rawMuxClient) Pipelined() (Caller, error) {
	c.pipeOnce.Do(func() {
		st, err := c.sess.OpenStream()
		if err != nil {
			c.pipeErr = err
			return
		}
		c.pipe = newRawPipe(st)
	})
	return c.pipe, c.pipeErr
}

// Close closes the session; the worker exits when it is gone.
func (c *rawMuxClient) Close() error {
	c.sess.Close()
	c.pipeOnce.Do(func() {})
	if c.pipe != nil {
		c.pipe.close()
	}
	return c.wait()
}
