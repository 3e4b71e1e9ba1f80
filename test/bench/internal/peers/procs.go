package peers

import (
	"os/exec"
	"sync"
	"syscall"
)

// live is every worker process started and not yet closed, by pid.
var live sync.Map // int -> struct{}

func track(pid int)   { live.Store(pid, struct{}{}) }
func untrack(pid int) { live.Delete(pid) }

// KillAll kills, with SIGKILL, every worker process a client started and
// did not close: for a harness that is interrupted or gives up. It returns
// how many it signalled.
func KillAll() int {
	n := 0
	live.Range(func(k, _ any) bool {
		if syscall.Kill(k.(int), syscall.SIGKILL) == nil {
			n++
		}
		live.Delete(k)
		return true
	})
	return n
}

// Live returns the number of worker processes started and not closed.
func Live() int {
	n := 0
	live.Range(func(_, _ any) bool { n++; return true })
	return n
}

// dieWithParent asks the kernel to kill the worker when the thread that
// started it goes away: the last line of defence against orphans if the
// harness itself is killed with SIGKILL.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
