package host

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/proc"
)

// process is a worker process this host started and waits for.
type process struct {
	name       string
	cmd        *exec.Cmd
	stderr     *lineWriter // nil when the caller kept stderr or the worker is detached
	stderrFile string      // detached: stderr goes to this file
	pipes      []*stdioPipe
	dir        string  // the private socket directory, removed when the process has ended
	sys        sysProc // per OS (process_unix.go, process_windows.go)

	exited  chan struct{}
	mu      sync.Mutex
	exitErr *ExitError
}

func baseName(path string) string { return filepath.Base(path) }

// wait reaps the process; it closes exited when the process has ended. The
// worker's stdout and stderr are pipes this host copies itself (stdioPipe),
// so cmd.Wait returns when the process is dead, even while a helper the
// worker started holds those pipes open; what the worker wrote before it
// died is read from the pipes before exited closes.
func (p *process) wait() {
	err := p.cmd.Wait()
	p.release()
	for _, sp := range p.pipes {
		sp.drain()
	}
	if p.stderr != nil {
		p.stderr.flush()
	}
	e := &ExitError{Name: p.name, PID: p.cmd.Process.Pid, Stderr: p.tail()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if sig, ok := exitSignal(ee); ok {
			e.ExitCode, e.Signal = -1, sig
		} else {
			e.ExitCode = ee.ExitCode()
		}
	}
	if p.dir != "" {
		os.RemoveAll(p.dir) // nothing is left behind a crash, Close or not
	}
	p.mu.Lock()
	p.exitErr = e
	p.mu.Unlock()
	close(p.exited)
}

// maxDrain bounds what is read from a worker's stdio pipe after its exit: a
// helper process may hold the pipe and keep writing.
const maxDrain = 1 << 20

// stdioPipe carries one of the worker's stdio streams (stdout or stderr) to
// dst. The host copies it on a goroutine of its own instead of letting
// exec.Cmd do it, because cmd.Wait waits for exec's copy, which lasts as
// long as any process holds the pipe open: a helper the worker started
// would delay the worker's exit status (until WaitDelay).
type stdioPipe struct {
	r       *os.File
	dst     io.Writer
	stopped atomic.Bool
	done    chan struct{}
}

// newStdioPipe returns the pipe and the end to give the worker; the caller
// closes that end once the worker has started, and starts copy.
func newStdioPipe(dst io.Writer) (*stdioPipe, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	return &stdioPipe{r: r, dst: dst, done: make(chan struct{})}, w, nil
}

// copy passes what arrives on to dst until the pipe ends or drain stops it.
func (sp *stdioPipe) copy() {
	defer close(sp.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := sp.r.Read(buf)
		if n > 0 {
			sp.dst.Write(buf[:n])
		}
		if err != nil {
			return // EOF, or drain set a deadline in the past
		}
		if sp.stopped.Load() {
			return
		}
	}
}

// drain is called once the worker is dead: it stops copy, passes on what
// the worker wrote before it died (still in the pipe) without waiting for
// a helper that holds the pipe, and closes the pipe.
func (sp *stdioPipe) drain() {
	sp.drainRaw() // per OS
	sp.r.Close()
}

// abort closes a pipe whose copy never started (the spawn failed).
func (sp *stdioPipe) abort() { sp.r.Close() }

func (p *process) tail() string {
	if p.stderr != nil {
		return p.stderr.Tail()
	}
	if p.stderrFile != "" {
		return fileTail(p.stderrFile, DefaultStderrTail)
	}
	return ""
}

// exit returns how the process ended, or nil while it runs.
func (p *process) exit() *ExitError {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.exitErr
	default:
		return nil
	}
}

// waitExit waits up to d for the process to end.
func (p *process) waitExit(d time.Duration) *ExitError {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	}
	return p.exit()
}

// waitExitIfDying waits up to d for the process to end and, if it is dead
// by then (a zombie not yet reaped: the host is busy), until it is reaped.
// It returns nil when the process still runs. The same death always gives
// the same error, however loaded the host is.
func (p *process) waitExitIfDying(d time.Duration) *ExitError {
	if e := p.waitExit(d); e != nil {
		return e
	}
	if !proc.Alive(p.cmd.Process.Pid) {
		<-p.exited // reaping a dead process does not wait on its stdio
		return p.exit()
	}
	return nil
}

func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return string(b[:k])
}

// pidAlive reports whether a process that is not our child is running. A
// zombie (exited, not yet reaped by its parent) counts as gone. It works on
// every Unix (internal/proc: /proc on Linux, ps elsewhere).
func pidAlive(pid int) bool { return proc.Alive(pid) }

// waitGone waits until pid (not this host's child: an attached worker) is
// gone or d has passed; it reports whether it is gone.
func waitGone(pid int, d time.Duration) bool { return proc.WaitGone(pid, d) }
