package host

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/proc"
)

// The test binary doubles as the worker-like processes these tests start:
// with IW_HOST_TEST_ROLE set it plays that role instead of running tests.
//   - ready: write "ready\n" to the handle in IW_HOST_TEST_READY, exit 0.
//   - tree: start a "sleep" child, print its pid, then exit (exit) or
//     block (block) as IW_HOST_TEST_THEN says.
//   - sleep: block until killed.
func init() {
	switch os.Getenv("IW_HOST_TEST_ROLE") {
	case "":
		return
	case "ready":
		h, err := strconv.Atoi(os.Getenv("IW_HOST_TEST_READY"))
		f := os.NewFile(uintptr(h), "ready-pipe")
		if err != nil || f == nil {
			os.Exit(2)
		}
		if _, err := f.WriteString("ready\n"); err != nil {
			fmt.Fprintln(os.Stderr, "write ready handle:", err)
			os.Exit(3)
		}
		os.Exit(0)
	case "tree":
		bufio.NewReader(os.Stdin).ReadString('\n') // contained by now
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), "IW_HOST_TEST_ROLE=sleep")
		if err := c.Start(); err != nil {
			os.Exit(2)
		}
		fmt.Println(c.Process.Pid)
		if os.Getenv("IW_HOST_TEST_THEN") == "exit" {
			os.Exit(0)
		}
		for {
			time.Sleep(time.Hour) // not select{}: the runtime would end a process with nothing left to run
		}
	case "sleep":
		for {
			time.Sleep(time.Hour) // not select{}: the runtime would end a process with nothing left to run
		}
	}
	os.Exit(2)
}

// TestReadyPipeIsAnInheritedHandle: the worker finds the ready pipe by the
// handle value passReady returns (no descriptor 3 on Windows).
func TestReadyPipeIsAnInheritedHandle(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0])
	h := passReady(cmd, w)
	setProcAttr(cmd, false)
	cmd.Env = append(os.Environ(), "IW_HOST_TEST_ROLE=ready", "IW_HOST_TEST_READY="+strconv.Itoa(h))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("child: %v (%s)", werr, stderr.String())
	}
	if line != "ready\n" || err != nil {
		t.Errorf("read %q, %v from the ready pipe, want \"ready\\n\"", line, err)
	}
}

// startTree starts a "tree" process as Start does (setProcAttr, contain)
// and returns it and its child's pid.
func startTree(t *testing.T, then string) (*process, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	setProcAttr(cmd, false)
	cmd.Env = append(os.Environ(), "IW_HOST_TEST_ROLE=tree", "IW_HOST_TEST_THEN="+then)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: "tree", cmd: cmd, exited: make(chan struct{})}
	if err := p.contain(false); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("contain: %v", err)
	}
	in.Write([]byte("go\n"))
	line, err := bufio.NewReader(out).ReadString('\n')
	child, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		p.killGroup()
		cmd.Wait()
		t.Fatalf("child pid: %q, %v", line, err)
	}
	return p, child
}

// TestKillGroupEndsWorkerTree: Close's kill ends what the worker started.
func TestKillGroupEndsWorkerTree(t *testing.T) {
	p, child := startTree(t, "block")
	p.killGroup()
	p.cmd.Wait()
	p.release()
	if !proc.WaitGone(child, 10*time.Second) {
		pidKill(child)
		t.Errorf("the worker's child %d outlived killGroup", child)
	}
}

// TestWorkerExitEndsItsTree: once a worker has exited and been reaped,
// what it started ends too (release), as Serve's group kill does on Unix.
func TestWorkerExitEndsItsTree(t *testing.T) {
	p, child := startTree(t, "exit")
	p.cmd.Wait()
	p.release()
	if !proc.WaitGone(child, 10*time.Second) {
		pidKill(child)
		t.Errorf("the worker's child %d outlived the worker", child)
	}
}

func pidKill(pid int) {
	if pr, err := os.FindProcess(pid); err == nil {
		pr.Kill()
	}
}
