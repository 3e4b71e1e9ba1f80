package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
	"golang.org/x/sys/windows"
)

// sysProc is what a process needs beyond exec.Cmd on Windows: the Job
// object that holds the worker and everything it starts. The job is made
// with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and only this host holds its
// handle, so the tree ends when killGroup terminates the job, and when the
// host process dies, however it dies. A detached worker has none.
type sysProc struct {
	job      *proc.Job
	released bool // the worker has been reaped and its job ended
}

// passReady lets the worker inherit the ready pipe's write end
// (AdditionalInheritedHandles: that handle and stdio, no other) and
// returns the handle's value, for ISOLATED_WORKERS_READY_FD; the worker
// opens it with os.NewFile.
func passReady(cmd *exec.Cmd, readyW *os.File) int {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	h := syscall.Handle(readyW.Fd())
	cmd.SysProcAttr.AdditionalInheritedHandles = append(cmd.SysProcAttr.AdditionalInheritedHandles, h)
	return int(h)
}

// setProcAttr starts the worker in a process group of its own, so a
// console's Ctrl+C does not reach it (its host decides when it stops); a
// detached worker also gets no console (DETACHED_PROCESS) and outlives its
// host.
func setProcAttr(cmd *exec.Cmd, detached bool) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_NEW_PROCESS_GROUP
	if detached {
		cmd.SysProcAttr.CreationFlags |= windows.DETACHED_PROCESS
	}
}

// contain puts a started, not detached worker into a Job object of its
// own. A process the worker starts before this returns (in the first
// moments of its life, before Serve) is not in the job.
func (p *process) contain(detached bool) error {
	if detached {
		return nil
	}
	job, err := proc.NewJob()
	if err != nil {
		return fmt.Errorf("contain worker process %d: %w", p.cmd.Process.Pid, err)
	}
	if err := job.Assign(p.cmd.Process.Pid); err != nil {
		job.Close()
		if !proc.Alive(p.cmd.Process.Pid) {
			return nil // it exited already: start reports how
		}
		return fmt.Errorf("contain worker process %d: %w", p.cmd.Process.Pid, err)
	}
	p.mu.Lock()
	released := p.sys.released
	if !released {
		p.sys.job = job
	}
	p.mu.Unlock()
	if released {
		job.Terminate()
		job.Close()
	}
	return nil
}

// release ends what is left in the worker's job and closes it, once the
// worker has been reaped: what the worker started does not outlive it (on
// Unix a worker's Serve kills its process group as it exits).
func (p *process) release() {
	p.mu.Lock()
	job := p.sys.job
	p.sys.job, p.sys.released = nil, true
	p.mu.Unlock()
	if job != nil {
		job.Terminate()
		job.Close()
	}
}

// killGroup ends the worker's job (the worker and everything it started),
// or the worker alone when it has none.
func (p *process) killGroup() {
	p.mu.Lock()
	job := p.sys.job
	p.mu.Unlock()
	if job == nil || job.Terminate() != nil {
		if p.exit() == nil {
			p.cmd.Process.Kill()
		}
	}
}

// exitSignal: no signal ends a process on Windows.
func exitSignal(ee *exec.ExitError) (string, bool) { return "", false }

// drainWait bounds the wait for the copy of a stdio pipe to reach its end
// once the worker has been reaped. Pipes on Windows are blocking handles
// (no read deadline): copy reads until every writer is gone, which release
// has seen to by ending the worker's job; a writer outside the job (started
// before contain, or given the handle on purpose) would hold it for ever.
const drainWait = 2 * time.Second

// drainRaw waits for copy to pass on what the worker wrote and reach the
// end of the pipe; after drainWait it cancels the pending read.
func (sp *stdioPipe) drainRaw() {
	sp.stopped.Store(true)
	t := time.NewTimer(drainWait)
	defer t.Stop()
	select {
	case <-sp.done:
		return
	case <-t.C:
	}
	if rc, err := sp.r.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { windows.CancelIoEx(windows.Handle(fd), nil) })
	}
	<-sp.done
}

// askStop asks a worker this host is not connected to to stop cleanly.
// Windows has no signal for that: the host connects again and sends
// shutdown on the control stream, then waits (up to GracePeriod) for the
// worker to end the session. A worker it cannot reach is left to the kill
// that follows.
func (w *Worker) askStop() {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.GracePeriod)
	defer cancel()
	c, err := w.connect(ctx)
	if err != nil {
		w.logger.Debug("could not reach the disconnected worker to ask it to stop", "worker", w.cfg.Name, "error", err)
		return
	}
	c.sendControl(handshakewire.OpShutdown, "host closed the worker")
	select {
	case <-c.Session().CloseChan():
	case <-ctx.Done():
	}
	c.Close(ErrWorkerClosed)
}

// killPID kills a worker that is not this host's child (attached).
func killPID(pid int) { proc.Kill(pid) }

// isConnRefused reports whether dialing a socket failed because nothing
// listens on it (WSAECONNREFUSED; a socket file left by a dead worker).
func isConnRefused(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, syscall.ECONNREFUSED)
}
