package host

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

// maxSocketPath is the longest socket path accepted: sun_path is 108 bytes
// on Linux and 104 on the BSDs and macOS, including the final NUL.
const maxSocketPath = 103

// Start launches the worker executable cfg.Cmd, meets it in the handshake
// and connects to it. StartupTimeout (and ctx) bound everything from spawn
// to hello. On failure the process is killed and the error says why: the
// worker's exit status and stderr tail when it exited, the worker's own
// words when it refused the handshake.
//
// ctx bounds only the start; the worker lives until Close, Shutdown or, for
// a worker with plugin.ExitOnDisconnect behavior, Disconnect.
func Start(ctx context.Context, cfg Config) (*Worker, error) {
	if cfg.Cmd == nil {
		return nil, errors.New("host: Config.Cmd is nil: set it to the worker executable, e.g. exec.Command(\"./worker\")")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	w := newWorker(cfg)
	if err := w.start(ctx); err != nil {
		return nil, fmt.Errorf("start worker %q: %w", cfg.Name, err)
	}
	return w, nil
}

func (w *Worker) start(ctx context.Context) (err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, w.cfg.StartupTimeout,
		fmt.Errorf("worker not ready after %v (StartupTimeout)", w.cfg.StartupTimeout))
	defer cancel()

	if err := w.verifyExecutable(); err != nil {
		return err
	}
	socketGID := -1
	if w.dir, w.socketPath, socketGID, err = w.cfg.UnixSocket.socketDir(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(w.dir)
		}
	}()
	w.token = randomToken()

	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("ready pipe: %w", err)
	}
	defer readyR.Close()

	cmd := w.cfg.Cmd
	p := &process{name: w.cfg.Name, cmd: cmd, dir: w.dir, exited: make(chan struct{})}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	readyFD := passReady(cmd, readyW) // per OS: a descriptor, or a handle on Windows
	cmd.Env = append(env, handshakewire.Env{
		SocketPath:       w.socketPath,
		Serializer:       w.cfg.Serializer.Name(),
		ProtocolVersions: w.cfg.Handshake.Versions(),
		AuthToken:        w.token,
		ReadyFD:          readyFD,
		SocketGroup:      gidString(socketGID),
	}.Encode(w.cfg.Handshake)...)
	setProcAttr(cmd, w.cfg.Detached)
	var closeAfterStart []io.Closer
	if w.cfg.Detached {
		if err := w.detachStdio(p, &closeAfterStart); err != nil {
			readyW.Close()
			return err
		}
	} else {
		if err := w.pipeStdio(p, &closeAfterStart); err != nil {
			readyW.Close()
			for _, sp := range p.pipes {
				sp.abort()
			}
			for _, c := range closeAfterStart {
				c.Close()
			}
			return err
		}
		if cmd.WaitDelay == 0 {
			cmd.WaitDelay = w.cfg.GracePeriod // a grandchild holding a caller's stdin must not hang Wait
		}
	}
	if err = w.runCommand(cmd); err == nil {
		err = cmd.Start()
	}
	readyW.Close()
	for _, c := range closeAfterStart {
		c.Close()
	}
	if err != nil {
		for _, sp := range p.pipes {
			sp.abort()
		}
		return fmt.Errorf("spawn %s: %w", cmd.Path, err)
	}
	w.proc, w.pid = p, cmd.Process.Pid
	for _, sp := range p.pipes {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			sp.copy()
		}()
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		p.wait()
	}()
	defer func() {
		if err != nil {
			p.killGroup()
			<-p.exited
			w.wg.Wait()
		}
	}()
	if err := p.contain(w.cfg.Detached); err != nil {
		return err
	}
	w.logger.Debug("worker started", "pid", w.pid, "path", cmd.Path)

	if err := w.waitReady(ctx, readyR, p); err != nil {
		return err
	}
	c, err := w.connect(ctx)
	if err != nil {
		if e := p.waitExit(startExitWait); e != nil {
			return e
		}
		return err
	}
	return w.install(c)
}

// waitReady waits for the ready line, the worker's exit, or the deadline.
func (w *Worker) waitReady(ctx context.Context, readyR *os.File, p *process) error {
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := bufio.NewReaderSize(io.LimitReader(readyR, handshakewire.MaxReadyLine), 256).ReadString('\n')
		ch <- line{s, err}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			// The worker closed the pipe without a line: it exited.
			if e := p.waitExit(w.cfg.GracePeriod); e != nil {
				return fmt.Errorf("worker exited during start-up: %w", e)
			}
			return fmt.Errorf("worker closed its ready pipe without a ready line: %w", l.err)
		}
		version, _, err := handshakewire.ParseReady(l.s)
		if err != nil {
			return err
		}
		w.version = version
		return nil
	case <-ctx.Done():
		readyR.Close() // unblocks the reader goroutine
		<-ch
		return context.Cause(ctx)
	}
}

// pipeStdio gives the worker pipes for its stderr (logged by the host, its
// tail kept for ExitError, and copied to the caller's cmd.Stderr if set)
// and, unless the caller set cmd.Stdout to a file, its stdout. The host
// copies them itself (see stdioPipe). The worker's ends are appended to
// closers, to close once it has started.
func (w *Worker) pipeStdio(p *process, closers *[]io.Closer) error {
	c := w.cfg.Cmd
	p.stderr = &lineWriter{tailMax: DefaultStderrTail, fn: w.logLine("stderr", hclog.Info)}
	stderr := io.Writer(p.stderr)
	if c.Stderr != nil {
		stderr = io.MultiWriter(c.Stderr, p.stderr)
	}
	stdout := c.Stdout
	if stdout == nil {
		stdout = &lineWriter{fn: w.logLine("stdout", hclog.Info)}
	}
	sp, child, err := newStdioPipe(stderr)
	if err != nil {
		return fmt.Errorf("stderr pipe: %w", err)
	}
	p.pipes = append(p.pipes, sp)
	*closers = append(*closers, child)
	c.Stderr = child
	if _, isFile := stdout.(*os.File); !isFile {
		sp, child, err := newStdioPipe(stdout)
		if err != nil {
			return fmt.Errorf("stdout pipe: %w", err)
		}
		p.pipes = append(p.pipes, sp)
		*closers = append(*closers, child)
		c.Stdout = child
	}
	return nil
}

// detachStdio points a detached worker's unset stdout and stderr at a file
// in its private directory, so it never writes to a pipe whose reader (this
// host) may be gone.
func (w *Worker) detachStdio(p *process, closers *[]io.Closer) error {
	c := w.cfg.Cmd
	if c.Stdout != nil && c.Stderr != nil {
		return nil
	}
	p.stderrFile = filepath.Join(w.dir, "worker.log")
	f, err := os.OpenFile(p.stderrFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("detached worker log: %w", err)
	}
	*closers = append(*closers, f)
	if c.Stdout == nil {
		c.Stdout = f
	}
	if c.Stderr == nil {
		c.Stderr = f
	}
	return nil
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
