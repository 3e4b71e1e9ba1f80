package proc

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"
)

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Error("Alive(own pid) = false")
	}
	if !Alive(1) {
		t.Error("Alive(1) = false; init is always there (EPERM still means alive)")
	}
	if Alive(0) || Alive(-1) {
		t.Error("Alive(0) or Alive(-1) = true")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Wait for the exit without reaping: the child is then a zombie.
	var info [128]byte
	const pWait, wExited, wNoWait = 1, 4, 0x01000000
	if _, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pWait, uintptr(pid), uintptr(unsafe.Pointer(&info)), wExited|wNoWait, 0, 0); errno != 0 {
		t.Fatalf("waitid(%d, WNOWAIT): %v", pid, errno)
	}
	if Alive(pid) {
		t.Errorf("Alive(%d) = true for an exited, unreaped child (a zombie)", pid)
	}
	cmd.Wait()
	if Alive(pid) {
		t.Errorf("Alive(%d) = true for a reaped child", pid)
	}
}

func TestStatFields(t *testing.T) {
	tests := []struct {
		line      string
		state     byte
		pgrp      int
		wantParse bool
	}{
		{"42 (sleep) S 1 42 42 0", 'S', 42, true},
		{"42 (a) b) Z 1 7 7 0", 'Z', 7, true},
		{"42 (x", 0, 0, false},
		{"42 (x) S 1", 0, 0, false},
	}
	for _, tt := range tests {
		state, pgrp, ok := statFields([]byte(tt.line))
		if ok != tt.wantParse || (ok && (state != tt.state || pgrp != tt.pgrp)) {
			t.Errorf("statFields(%q) = %q, %d, %v, want %q, %d, %v", tt.line, state, pgrp, ok, tt.state, tt.pgrp, tt.wantParse)
		}
	}
}
