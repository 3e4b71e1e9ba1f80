package proc

import "time"

// PollInterval is how often pollGone checks a process it has no event for:
// on the platforms without one wired up here (macOS, FreeBSD), and on
// Linux kernels older than pidfd.
const PollInterval = 10 * time.Millisecond

// pollGone checks every PollInterval, for at most d, whether pid has
// exited, and reports whether it has.
func pollGone(pid int, d time.Duration) bool {
	if !Alive(pid) {
		return true
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			return !Alive(pid)
		case <-tick.C:
			if !Alive(pid) {
				return true
			}
		}
	}
}
