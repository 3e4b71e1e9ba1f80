//go:build unix

package e2e

import "syscall"

// killPID sends SIGKILL to pid.
func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// stopPID freezes pid with SIGSTOP (it stays alive but stops reading).
func stopPID(pid int) error { return syscall.Kill(pid, syscall.SIGSTOP) }
