package peers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/rawproto"
)

// rawClient is the floor: no envelope, no serializer, no multiplexing. Ping
// and Echo run in lock-step on one connection (write, then read the reply
// on the same goroutine: no hand-off at all). Pipelined opens a second
// connection with a reader goroutine, for many calls in flight.
type rawClient struct {
	*rawProc

	mu   sync.Mutex // one lock-step call at a time
	conn net.Conn
	br   *bufio.Reader
	wbuf []byte

	pipeOnce sync.Once
	pipe     *rawPipe
	pipeErr  error
}

// rawProc is a running raw or rawmux worker: the process, its socket's
// directory, and a channel closed when it has exited.
type rawProc struct {
	cmd    *exec.Cmd
	dir    string
	sock   string
	exited chan struct{}
}

// launchRaw starts a raw-style worker (raw or rawmux), waits for its ready
// line and dials its socket.
func launchRaw(ctx context.Context, bin string, env ...string) (*rawProc, net.Conn, error) {
	dir, err := os.MkdirTemp("", "rawb-")
	if err != nil {
		return nil, nil, err
	}
	p := &rawProc{dir: dir, sock: filepath.Join(dir, "s"), exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	dieWithParent(p.cmd)
	p.cmd.Env = append(append(os.Environ(), rawproto.SocketEnv+"="+p.sock), env...)
	p.cmd.Stderr = os.Stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	track(p.cmd.Process.Pid)
	ready := make(chan error, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, err := br.ReadString('\n')
		if err == nil && strings.TrimSpace(line) != rawproto.ReadyLine {
			err = fmt.Errorf("unexpected first line %q", line)
		}
		ready <- err
		io.Copy(io.Discard, br) // until the worker exits
		p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	var conn net.Conn
	if err == nil {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "unix", p.sock)
	}
	if err != nil {
		p.wait()
		return nil, nil, err
	}
	return p, conn, nil
}

// wait waits for the worker to exit once its connections are closed (it is
// killed if it has not after 2 s) and removes its directory.
func (p *rawProc) wait() error {
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	untrack(p.cmd.Process.Pid)
	return os.RemoveAll(p.dir)
}

func (p *rawProc) PID() int { return p.cmd.Process.Pid }

func startRaw(ctx context.Context, bin string, _ Options) (Client, error) {
	p, conn, err := launchRaw(ctx, bin)
	if err != nil {
		return nil, err
	}
	return &rawClient{rawProc: p, conn: conn, br: bufio.NewReaderSize(conn, 64<<10)}, nil
}

func (c *rawClient) call(op byte, b []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil, net.ErrClosed
	}
	if err := writeRequest(c.conn, &c.wbuf, op, b); err != nil {
		return nil, err
	}
	return readReply(c.br)
}

func writeRequest(w io.Writer, buf *[]byte, op byte, b []byte) error {
	*buf = rawproto.AppendRequest((*buf)[:0], op, len(b))
	if len(b) <= rawproto.SmallWrite {
		*buf = append(*buf, b...)
		_, err := w.Write(*buf)
		return err
	}
	bufs := net.Buffers{*buf, b}
	_, err := bufs.WriteTo(w)
	return err
}

func readReply(br *bufio.Reader) ([]byte, error) {
	n, err := rawproto.ReadLen(br)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	_, err = io.ReadFull(br, out)
	return out, err
}

func (c *rawClient) Ping(_ context.Context, b []byte) ([]byte, error) {
	return c.call(rawproto.OpPing, b)
}

func (c *rawClient) Echo(_ context.Context, b []byte) ([]byte, error) {
	return c.call(rawproto.OpEcho, b)
}

func (c *rawClient) PingStruct(context.Context, string) (string, error) {
	return "", ErrUnsupported
}

// Pipelined returns a caller on a second connection that keeps many
// requests in flight: writers coalesce into one write, and a reader
// goroutine hands each reply to its caller in order.
func (c *rawClient) Pipelined() (Caller, error) {
	c.pipeOnce.Do(func() {
		conn, err := net.Dial("unix", c.sock)
		if err != nil {
			c.pipeErr = err
			return
		}
		c.pipe = newRawPipe(conn)
	})
	return c.pipe, c.pipeErr
}

// Close closes the connections; the worker exits when they are gone (it is
// killed if it has not after 2 s).
func (c *rawClient) Close() error {
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	c.mu.Unlock()
	c.pipeOnce.Do(func() {})
	if c.pipe != nil {
		c.pipe.close()
	}
	return c.wait()
}

// rawPipe is a pipelined connection.
type rawPipe struct {
	conn net.Conn

	mu       sync.Mutex
	buf      []byte // requests waiting for the flusher
	spare    []byte
	flushing bool
	err      error
	waiting  []*rawWait // in request order
	head     int

	done chan struct{}
}

type rawWait struct {
	ch  chan rawResult
	res rawResult
}

type rawResult struct {
	b   []byte
	err error
}

var rawWaitPool = sync.Pool{New: func() any { return &rawWait{ch: make(chan rawResult, 1)} }}

func newRawPipe(conn net.Conn) *rawPipe {
	p := &rawPipe{conn: conn, done: make(chan struct{})}
	go p.read()
	return p
}

// Ping queues the request and, if no other caller is writing, writes every
// queued request in one write; then it waits for its reply.
func (p *rawPipe) Ping(_ context.Context, b []byte) ([]byte, error) {
	w := rawWaitPool.Get().(*rawWait)
	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		rawWaitPool.Put(w)
		return nil, err
	}
	p.buf = rawproto.AppendRequest(p.buf, rawproto.OpPing, len(b))
	p.buf = append(p.buf, b...)
	p.waiting = append(p.waiting, w)
	if !p.flushing {
		p.flushing = true
		for len(p.buf) > 0 && p.err == nil {
			out := p.buf
			p.buf = p.spare[:0]
			p.mu.Unlock()
			_, err := p.conn.Write(out)
			p.mu.Lock()
			p.spare = out
			if err != nil {
				p.failLocked(err)
			}
		}
		p.flushing = false
	}
	p.mu.Unlock()
	r := <-w.ch
	rawWaitPool.Put(w)
	return r.b, r.err
}

func (p *rawPipe) read() {
	defer close(p.done)
	br := bufio.NewReaderSize(p.conn, 64<<10)
	for {
		b, err := readReply(br)
		p.mu.Lock()
		if err != nil {
			p.failLocked(err)
			p.mu.Unlock()
			return
		}
		if p.head == len(p.waiting) {
			p.failLocked(errors.New("raw: reply with no request waiting"))
			p.mu.Unlock()
			return
		}
		w := p.waiting[p.head]
		p.waiting[p.head] = nil
		p.head++
		if p.head == len(p.waiting) {
			p.waiting, p.head = p.waiting[:0], 0
		}
		p.mu.Unlock()
		w.ch <- rawResult{b: b}
	}
}

// failLocked fails every waiting call; p.mu is held.
func (p *rawPipe) failLocked(err error) {
	if p.err == nil {
		p.err = err
	}
	for _, w := range p.waiting[p.head:] {
		w.ch <- rawResult{err: err}
	}
	p.waiting, p.head = nil, 0
}

func (p *rawPipe) close() {
	p.conn.Close()
	<-p.done
}
