package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// The test binary doubles as the processes these tests start: with
// IW_PROC_TEST_ROLE set it plays that role instead of running the tests.
//   - sleep: block until killed.
//   - parent: on a line on stdin, start a "sleep" child, print its pid,
//     then block until killed.
func init() {
	switch os.Getenv("IW_PROC_TEST_ROLE") {
	case "":
		return
	case "sleep":
		for {
			time.Sleep(time.Hour) // not select{}: the runtime would end a process with nothing left to run
		}
	case "parent":
		bufio.NewReader(os.Stdin).ReadString('\n')
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), "IW_PROC_TEST_ROLE=sleep")
		if err := c.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println(c.Process.Pid)
		for {
			time.Sleep(time.Hour) // not select{}: the runtime would end a process with nothing left to run
		}
	}
	os.Exit(2)
}

func role(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), "IW_PROC_TEST_ROLE="+name)
	return c
}

func TestAliveWindows(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Error("Alive(own pid) = false")
	}
	if Alive(0) || Alive(-1) {
		t.Error("Alive(0) or Alive(-1) = true")
	}
	c := role(t, "sleep")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pid := c.Process.Pid
	if !Alive(pid) {
		t.Errorf("Alive(%d) = false for a running child", pid)
	}
	if err := Kill(pid); err != nil {
		t.Fatalf("Kill(%d): %v", pid, err)
	}
	c.Wait()
	if Alive(pid) {
		t.Errorf("Alive(%d) = true for a killed, waited-for child", pid)
	}
}

func TestTerminateHasNoSignalOnWindows(t *testing.T) {
	if err := Terminate(os.Getpid()); !errors.Is(err, ErrNoGracefulSignal) {
		t.Errorf("Terminate = %v, want ErrNoGracefulSignal", err)
	}
	if IsGroupLeader() {
		t.Error("IsGroupLeader() = true on windows")
	}
}

// startTree starts a "parent" in a new job, lets it start its child once
// it is in the job, and returns both pids.
func startTree(t *testing.T) (*Job, *exec.Cmd, int) {
	t.Helper()
	j, err := NewJob()
	if err != nil {
		t.Fatalf("NewJob: %v", err)
	}
	c := role(t, "parent")
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := j.Assign(c.Process.Pid); err != nil {
		c.Process.Kill()
		c.Wait()
		t.Fatalf("Assign: %v", err)
	}
	in.Write([]byte("go\n"))
	line, err := bufio.NewReader(out).ReadString('\n')
	child, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		c.Process.Kill()
		c.Wait()
		t.Fatalf("parent's child pid: %q, %v", line, err)
	}
	t.Cleanup(func() { Kill(child); c.Process.Kill(); c.Wait() })
	return j, c, child
}

// TestJobTerminateEndsTree: killGroup on Windows terminates the worker's
// job, which ends what the worker started too.
func TestJobTerminateEndsTree(t *testing.T) {
	j, c, child := startTree(t)
	defer j.Close()
	if err := j.Terminate(); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if !WaitGone(c.Process.Pid, 10*time.Second) {
		t.Errorf("the parent %d outlived Job.Terminate", c.Process.Pid)
	}
	if !WaitGone(child, 10*time.Second) {
		t.Errorf("the parent's child %d outlived Job.Terminate", child)
	}
}

// TestJobCloseEndsTree: the host's handle to the job closes when the host
// dies, however it dies; KILL_ON_JOB_CLOSE then ends the worker's tree.
func TestJobCloseEndsTree(t *testing.T) {
	j, c, child := startTree(t)
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !WaitGone(c.Process.Pid, 10*time.Second) {
		t.Errorf("the parent %d outlived the job's last handle", c.Process.Pid)
	}
	if !WaitGone(child, 10*time.Second) {
		t.Errorf("the parent's child %d outlived the job's last handle", child)
	}
}

// TestJobKillsOnClose checks the limits every job is created with, and that
// Windows accepted them (NewJob fails otherwise). Reading them back with
// QueryInformationJobObject is not possible under Wine 8.0, which reports
// no limits at all, and Wine ends a closed job's processes with or without
// the flag, so TestJobCloseEndsTree alone would not catch it missing.
func TestJobKillsOnClose(t *testing.T) {
	if got := killOnCloseLimits().BasicLimitInformation.LimitFlags; got&windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE == 0 {
		t.Errorf("job limit flags = %#x, want JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE set", got)
	}
	j, err := NewJob()
	if err != nil {
		t.Fatalf("NewJob: %v", err)
	}
	j.Close()
}
