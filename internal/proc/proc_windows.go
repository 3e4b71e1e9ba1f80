package proc

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/windows"
)

// stillActive is the exit code GetExitCodeProcess reports for a process
// that is running (STILL_ACTIVE).
const stillActive = 259

// Alive reports whether a process is running: it can be opened and has no
// exit code yet. A process this user may not query (access denied) counts
// as alive, as EPERM does on Unix.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true // open, so it exists; its state is unknown
	}
	return code == stillActive
}

// IsGroupLeader is false on Windows: there are no process groups to
// signal. The host holds a worker and what it starts in a Job object and
// ends them together.
func IsGroupLeader() bool { return false }

// SignalGroupOthers does nothing on Windows (see IsGroupLeader).
func SignalGroupOthers(pgid int, sig syscall.Signal) ([]int, error) { return nil, nil }

// Terminate is not available on Windows, which has no signal a console-less
// process can handle: a host asks a worker to stop on its control stream
// instead. It returns ErrNoGracefulSignal.
func Terminate(pid int) error { return ErrNoGracefulSignal }

// ErrNoGracefulSignal: the platform has no signal that asks a process to
// stop cleanly (Windows).
var ErrNoGracefulSignal = errors.New("no signal asks a process to stop cleanly on windows")

// Kill ends the process pid at once (TerminateProcess, exit code 1).
func Kill(pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.TerminateProcess(h, 1); err != nil {
		return fmt.Errorf("terminate process %d: %w", pid, err)
	}
	return nil
}
