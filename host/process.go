package host

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// process is a worker process this host started and waits for.
type process struct {
	name       string
	cmd        *exec.Cmd
	stderr     *lineWriter // nil when the caller kept stderr or the worker is detached
	stderrFile string      // detached: stderr goes to this file

	exited  chan struct{}
	mu      sync.Mutex
	exitErr *ExitError
}

func baseName(path string) string { return filepath.Base(path) }

// wait reaps the process; it closes exited when the process has ended.
func (p *process) wait() {
	err := p.cmd.Wait()
	if p.stderr != nil {
		p.stderr.flush()
	}
	e := &ExitError{Name: p.name, PID: p.cmd.Process.Pid, Stderr: p.tail()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.ExitCode, e.Signal = -1, ws.Signal().String()
		} else {
			e.ExitCode = ee.ExitCode()
		}
	}
	p.mu.Lock()
	p.exitErr = e
	p.mu.Unlock()
	close(p.exited)
}

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

// killGroup kills the worker's process group (the worker and anything it
// started that stayed in its group).
func (p *process) killGroup() {
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && p.exit() == nil {
		p.cmd.Process.Kill()
	}
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
// zombie (exited, not yet reaped by its parent) counts as gone.
func pidAlive(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false // EPERM: it exists, as another user's process
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name in parentheses, which may itself
	// contain ")".
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z' && b[i+2] != 'X'
	}
	return true
}

// waitGone polls until pid is gone or d has passed; it reports whether it
// is gone.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for pidAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
