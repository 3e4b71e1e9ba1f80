//go:build unix

package proc

import (
	"os/exec"
	"testing"
	"time"
)

func TestWaitGone(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	if WaitGone(pid, 50*time.Millisecond) {
		t.Fatalf("WaitGone(%d, 50ms) = true for a running process, want false", pid)
	}
	gone := make(chan bool, 1)
	go func() { gone <- WaitGone(pid, time.Minute) }()
	cmd.Process.Kill()
	if !<-gone {
		t.Errorf("WaitGone(%d, 1m) = false after it was killed (still a zombie: unreaped), want true", pid)
	}
	cmd.Wait()
	if !WaitGone(pid, 0) {
		t.Errorf("WaitGone(%d, 0) = false for a reaped process, want true", pid)
	}
	if !pollGone(pid, 0) {
		t.Errorf("pollGone(%d, 0) = false for a reaped process, want true", pid)
	}
}
