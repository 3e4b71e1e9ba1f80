//go:build unix

package proc

import (
	"errors"
	"os"
	"syscall"
)

// Alive reports whether a process is running. A zombie (exited, not yet
// reaped by its parent) counts as gone. A process of another user (EPERM)
// counts as alive.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	zombie, known := isZombie(pid)
	return !known || !zombie
}

// IsGroupLeader reports whether the calling process leads its own process
// group (a worker the host started with Setpgid or Setsid does).
func IsGroupLeader() bool {
	return syscall.Getpgrp() == os.Getpid()
}

// SignalGroupOthers sends sig to every member of process group pgid except
// the calling process, and returns the pids it signalled. It repeats the
// scan until a pass finds nobody new, at most a few times, so a member that
// forked while it was being signalled is caught too.
func SignalGroupOthers(pgid int, sig syscall.Signal) ([]int, error) {
	self := os.Getpid()
	seen := map[int]bool{}
	var out []int
	for range 4 {
		members, err := groupMembers(pgid)
		if err != nil {
			return out, err
		}
		fresh := 0
		for _, pid := range members {
			if pid == self || seen[pid] {
				continue
			}
			seen[pid] = true
			fresh++
			if syscall.Kill(pid, sig) == nil {
				out = append(out, pid)
			}
		}
		if fresh == 0 {
			break
		}
	}
	return out, nil
}

// Terminate asks the process pid to stop cleanly (SIGTERM, which a
// worker's plugin.Serve handles as a clean stop).
func Terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

// Kill ends the process pid at once (SIGKILL).
func Kill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
