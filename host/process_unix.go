//go:build unix

package host

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/proc"
)

// sysProc is what a process needs beyond exec.Cmd on this OS: nothing on
// Unix, where the worker leads its own process group.
type sysProc struct{}

// passReady hands the ready pipe's write end to the worker as an extra
// descriptor and returns its number, for ISOLATED_WORKERS_READY_FD.
func passReady(cmd *exec.Cmd, readyW *os.File) int {
	cmd.ExtraFiles = append(cmd.ExtraFiles, readyW)
	return 2 + len(cmd.ExtraFiles)
}

// setProcAttr puts the worker in a process group of its own (Setpgid), so
// killGroup takes down what it starts and a terminal's Ctrl+C does not
// reach it; a detached worker gets a session of its own (Setsid) and
// outlives its host.
func setProcAttr(cmd *exec.Cmd, detached bool) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if detached {
		cmd.SysProcAttr.Setsid = true
	} else {
		cmd.SysProcAttr.Setpgid = true
	}
}

// contain is called once the worker has started; on Unix its process group
// already holds it.
func (p *process) contain(detached bool) error { return nil }

// release frees what contain took once the process has been reaped.
func (p *process) release() {}

// killGroup kills the worker's process group (the worker and anything it
// started that stayed in its group).
func (p *process) killGroup() {
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && p.exit() == nil {
		p.cmd.Process.Kill()
	}
}

// exitSignal returns the signal that ended the process, if one did.
func exitSignal(ee *exec.ExitError) (string, bool) {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal().String(), true
	}
	return "", false
}

// drainRaw passes on what is left in the pipe once copy has stopped. The
// descriptor is non-blocking (os.Pipe registers it with the poller): read
// until the pipe is empty, not until it closes.
func (sp *stdioPipe) drainRaw() {
	sp.stopped.Store(true)
	sp.r.SetReadDeadline(time.Now()) // wakes copy if it waits in Read
	<-sp.done
	rc, err := sp.r.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	rc.Control(func(fd uintptr) {
		for total := 0; total < maxDrain; {
			n, err := syscall.Read(int(fd), buf)
			if n <= 0 || err != nil {
				return
			}
			sp.dst.Write(buf[:n])
			total += n
		}
	})
}

// askStop asks a worker this host is not connected to to stop cleanly:
// SIGTERM, which plugin.Serve handles as a clean stop.
func (w *Worker) askStop() { proc.Terminate(w.pid) }

// killPID kills a worker that is not this host's child (attached).
func killPID(pid int) { proc.Kill(pid) }

// isConnRefused reports whether dialing a socket failed because nothing
// listens on it.
func isConnRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
