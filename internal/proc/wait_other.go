//go:build unix && !linux

package proc

import "time"

// WaitGone waits until the process pid has exited (a zombie counts as
// exited) or d has passed, and reports whether it exited. pid need not be
// this process's child; here it is checked every PollInterval.
func WaitGone(pid int, d time.Duration) bool { return pollGone(pid, d) }
