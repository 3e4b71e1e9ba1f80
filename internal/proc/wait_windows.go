package proc

import (
	"time"

	"golang.org/x/sys/windows"
)

// WaitGone waits until the process pid has exited or d has passed, and
// reports whether it exited. It waits on the process handle, which is
// signalled when the process ends.
func WaitGone(pid int, d time.Duration) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return !Alive(pid) // no such process, or no right to wait on it
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, uint32(d.Milliseconds()))
	if err != nil {
		return pollGone(pid, d)
	}
	return ev == windows.WAIT_OBJECT_0
}
