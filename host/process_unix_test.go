//go:build unix

package host

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

// TestPassReadyUnix: the ready pipe goes after the caller's ExtraFiles and
// its number is what the worker writes to; setProcAttr gives the worker a
// group (or, detached, a session) of its own.
func TestPassReadyUnix(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cmd := exec.Command("sh", "-c", `echo "ready $$" >&"$1"`, "sh")
	cmd.ExtraFiles = []*os.File{devnull} // the caller's own: descriptor 3
	fd := passReady(cmd, w)
	if fd != 4 {
		t.Errorf("passReady after one ExtraFile = %d, want 4", fd)
	}
	cmd.Args = append(cmd.Args, strconv.Itoa(fd))
	setProcAttr(cmd, false)
	if !cmd.SysProcAttr.Setpgid || cmd.SysProcAttr.Setsid {
		t.Errorf("setProcAttr(detached=false) = %+v, want Setpgid only", cmd.SysProcAttr)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	// Not reaped yet, so it still has its group (as a zombie if it exited).
	if pgid, err := syscall.Getpgid(cmd.Process.Pid); err != nil || pgid != cmd.Process.Pid {
		t.Errorf("worker's process group = %d, %v; want its own (%d)", pgid, err, cmd.Process.Pid)
	}
	cmd.Wait()
	if want := "ready " + strconv.Itoa(cmd.Process.Pid) + "\n"; line != want || err != nil {
		t.Errorf("ready pipe: %q, %v; want %q", line, err, want)
	}

	d := exec.Command("true")
	setProcAttr(d, true)
	if !d.SysProcAttr.Setsid || d.SysProcAttr.Setpgid {
		t.Errorf("setProcAttr(detached=true) = %+v, want Setsid only", d.SysProcAttr)
	}
}
