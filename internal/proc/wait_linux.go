package proc

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// WaitGone waits until the process pid has exited (a zombie counts as
// exited) or d has passed, and reports whether it exited. pid need not be
// this process's child: on Linux it waits on a pidfd, which becomes
// readable when the process ends, so no polling is involved.
func WaitGone(pid int, d time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return true
	case err != nil: // a kernel before 5.3: no pidfd
		return pollGone(pid, d)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds()))
		switch {
		case n > 0:
			return true
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return pollGone(pid, time.Until(deadline))
		default: // timed out
			return !Alive(pid)
		}
	}
}
