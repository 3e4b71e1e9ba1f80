//go:build unix

package proc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestSignalGroupOthers(t *testing.T) {
	// A shell in its own group that starts a helper and prints its pid.
	cmd := exec.Command("sh", "-c", "sleep 1000 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	var b [32]byte
	n, _ := out.Read(b[:])
	helper, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		t.Fatalf("helper pid %q: %v", b[:n], err)
	}
	killed, err := SignalGroupOthers(cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("SignalGroupOthers: %v", err)
	}
	if !contains(killed, helper) || !contains(killed, cmd.Process.Pid) {
		t.Errorf("SignalGroupOthers killed %v, want the shell %d and its helper %d", killed, cmd.Process.Pid, helper)
	}
	if contains(killed, os.Getpid()) {
		t.Errorf("SignalGroupOthers signalled the caller %d", os.Getpid())
	}
	cmd.Wait()
	if st := cmd.ProcessState.Sys().(syscall.WaitStatus); !st.Signaled() || st.Signal() != syscall.SIGKILL {
		t.Errorf("shell ended with %v, want killed", cmd.ProcessState)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestAliveChild runs on every platform: before a portable check, a /proc
// reader called every live process gone on macOS and FreeBSD.
func TestAliveChild(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !Alive(pid) {
		t.Errorf("Alive(%d) = false for a running child", pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if Alive(pid) {
		t.Errorf("Alive(%d) = true for a killed, reaped child", pid)
	}
}
