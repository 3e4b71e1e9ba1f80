// Package proc holds the process helpers host and worker share: whether a
// process that is not our child is alive, and signalling the members of a
// process group other than the caller. The per-OS parts live in
// proc_linux.go (/proc) and proc_ps.go (the ps command, for macOS and the
// BSDs).
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
