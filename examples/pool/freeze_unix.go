//go:build unix

package main

import "syscall"

// freeze stops process pid (SIGSTOP): it stays alive but answers nothing,
// like a worker stuck in a deadlock or a blocking system call.
func freeze(pid int) error { return syscall.Kill(pid, syscall.SIGSTOP) }
