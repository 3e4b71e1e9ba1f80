package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// The test binary re-executes itself as a separate host process to show
// what happens to a worker when its host process exits or dies.
const (
	roleEnv       = "IW_E2E_ROLE"
	roleWorkerBin = "IW_E2E_WORKER"
	roleArgs      = "IW_E2E_WORKER_ARGS"
	roleOut       = "IW_E2E_OUT"
)

// runRole runs a host role and returns the exit status.
//   - detached-host: starts a detached worker, writes its ReattachConfig to
//     $IW_E2E_OUT, makes a call and exits without closing it.
//   - hang-host: starts a worker, writes its pid to $IW_E2E_OUT, then waits
//     to be killed.
//   - orphan-host, stuck-host: see orphanRole.
func runRole(role string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var args []string
	if a := os.Getenv(roleArgs); a != "" {
		args = strings.Fields(a)
	}
	cfg := host.Config{
		Cmd:       exec.Command(os.Getenv(roleWorkerBin), args...),
		Handshake: testproto.Handshake,
		Name:      "testworker",
		LogLevel:  hclog.Debug,
		Detached:  role == "detached-host",
		OnEvent:   noteHelperStarted,
	}
	w, err := host.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "role", role, "start:", err)
		return 2
	}
	if _, err := host.Call(ctx, w, testproto.Ping, "from the first host"); err != nil {
		fmt.Fprintln(os.Stderr, "role", role, "call:", err)
		return 3
	}
	switch role {
	case "detached-host":
		if err := w.ReattachConfig().WriteFile(os.Getenv(roleOut)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		return 0 // exit without Close: the worker lives on
	case "orphan-host", "stuck-host":
		return orphanRole(ctx, w, role == "stuck-host")
	case "hang-host":
		os.WriteFile(os.Getenv(roleOut), []byte(fmt.Sprint(w.PID())), 0o600)
		time.Sleep(time.Minute)
		return 0
	}
	return 5
}

// runHostProcess runs this test binary in a host role.
func runHostProcess(t *testing.T, role, workerArgs, out string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"="+role, roleWorkerBin+"="+bins["testworker"], roleArgs+"="+workerArgs, roleOut+"="+out)
	cmd.Stderr = os.Stderr
	return cmd
}
