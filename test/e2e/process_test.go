package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// orphanInfo is what an orphan-host or stuck-host role reports.
type orphanInfo struct {
	Worker int    `json:"worker"`
	Helper int    `json:"helper"`
	Dir    string `json:"dir"` // the worker's private socket directory
}

// helperStarted receives the pid in the worker's HelperStarted event, in a
// role host process.
var helperStarted = make(chan int, 1)

func noteHelperStarted(ev host.ReceivedEvent) {
	if pid, ok, _ := host.DecodeEvent(ev, testproto.HelperStarted); ok {
		select {
		case helperStarted <- pid:
		default:
		}
	}
}

// orphanRole makes the worker start a helper process (with stuck, from a
// handler that then ignores its context for ever), writes an orphanInfo to
// $IW_E2E_OUT and waits to be killed.
func orphanRole(ctx context.Context, w *host.Worker, stuck bool) int {
	info := orphanInfo{Worker: w.PID(), Dir: filepath.Dir(w.ReattachConfig().SocketPath)}
	if stuck {
		go host.Call(context.Background(), w, testproto.Stuck, "")
		select {
		case info.Helper = <-helperStarted:
		case <-ctx.Done():
			return 6
		}
	} else {
		pid, err := host.Call(ctx, w, testproto.SpawnHelper, "")
		if err != nil {
			return 6
		}
		info.Helper = pid
	}
	b, _ := json.Marshal(info)
	if err := os.WriteFile(os.Getenv(roleOut), b, 0o600); err != nil {
		return 4
	}
	time.Sleep(time.Minute)
	return 0
}

// runOrphanHost runs a role host process until it has written its
// orphanInfo, then kills it with SIGKILL and returns the info.
func runOrphanHost(t *testing.T, role, workerArgs string) orphanInfo {
	t.Helper()
	out := filepath.Join(t.TempDir(), "info.json")
	cmd := runHostProcess(t, role, workerArgs, out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var info orphanInfo
	eventually(t, "the host process to report its worker", func() bool {
		b, err := os.ReadFile(out)
		return err == nil && json.Unmarshal(b, &info) == nil && info.Helper > 0
	})
	t.Cleanup(func() {
		proc.Kill(info.Worker)
		proc.Kill(info.Helper)
		os.RemoveAll(info.Dir)
	})
	cmd.Process.Kill()
	cmd.Wait()
	return info
}

// waitGone waits up to d for pid to be gone; it reports whether it is.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestHostKilledWorkerTakesItsGroupDown: a host killed with kill -9 leaves
// a Shutdown-mode worker that had started a helper. The worker exits at
// once, kills the helper (a member of its process group) and removes its
// socket directory.
func TestHostKilledWorkerTakesItsGroupDown(t *testing.T) {
	info := runOrphanHost(t, "orphan-host", "")
	if !waitGone(info.Worker, 5*time.Second) {
		t.Fatalf("worker %d still runs after its host was killed", info.Worker)
	}
	if !waitGone(info.Helper, 5*time.Second) {
		t.Errorf("helper %d the worker started still runs after the worker exited", info.Helper)
	}
	if _, err := os.Stat(info.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory %s left behind: Stat = %v, want it gone", info.Dir, err)
	}
}

// TestHostKilledStuckHandler: a host killed with kill -9 while the worker
// runs a handler that ignores its context and has started a helper. The
// worker cancels the handler, waits its StopGrace, exits naming the
// handler, and takes the helper down with it.
func TestHostKilledStuckHandler(t *testing.T) {
	const grace = 300 * time.Millisecond
	stderr := filepath.Join(t.TempDir(), "stderr")
	info := runOrphanHost(t, "stuck-host", "-stop-grace "+grace.String()+" -stderr-file "+stderr)
	const margin = 5 * time.Second
	if !waitGone(info.Worker, grace+margin) {
		t.Fatalf("worker %d with a stuck handler still runs %v after its host was killed (StopGrace %v)", info.Worker, grace+margin, grace)
	}
	if !waitGone(info.Helper, margin) {
		t.Errorf("helper %d the stuck handler started still runs after the worker exited", info.Helper)
	}
	b, _ := os.ReadFile(stderr)
	if want := `"stuck" (txid `; !strings.Contains(string(b), want) {
		t.Errorf("worker's stderr = %q, want it to name the stuck handler (%s...)", b, want)
	}
	if _, err := os.Stat(info.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory %s left behind: Stat = %v, want it gone", info.Dir, err)
	}
}

// TestKilledWorkerWithHelperGivesExitError: a worker killed with kill -9
// whose helper process still holds its stdout and stderr. Pending calls
// must fail with the worker's exit (killed), not a lost connection: the
// exit is seen when the process dies, not when its stdio closes.
func TestKilledWorkerWithHelperGivesExitError(t *testing.T) {
	for i := range 15 {
		w, _ := startArgs(t)
		helper, err := host.Call(ctxT(t), w, testproto.SpawnHelper, "")
		if err != nil {
			t.Fatalf("Call(spawn-helper) = %v", err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := host.Call(context.Background(), w, testproto.Sleep, 60_000)
			errc <- err
		}()
		// The call is in flight once the worker's handler runs; the pid
		// call after it on the same stream proves the request arrived.
		if _, err := host.Call(ctxT(t), w, testproto.Pid, ""); err != nil {
			t.Fatal(err)
		}
		proc.Kill(w.PID())
		err = <-errc
		var ee *host.ExitError
		if !errors.As(err, &ee) || ee.Signal != "killed" {
			t.Fatalf("run %d: Call(sleep) after kill -9 = %v, want a *host.ExitError killed by signal", i, err)
		}
		w.Close()
		if !waitGone(helper, 5*time.Second) {
			t.Errorf("run %d: helper %d survived Close", i, helper)
		}
	}
}

// TestHandshakeVariablesNotInherited: processes a worker starts do not see
// the auth token or any other handshake variable.
func TestHandshakeVariablesNotInherited(t *testing.T) {
	w, _ := startArgs(t)
	got, err := host.Call(ctxT(t), w, testproto.ChildEnv, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("a process the worker started inherited %v, want no handshake variables", got)
	}
}

// TestCrashRemovesSocketDir: after a worker crash the host removes the
// private socket directory at once, not only at Close.
func TestCrashRemovesSocketDir(t *testing.T) {
	w, _ := startArgs(t)
	dir := filepath.Dir(w.ReattachConfig().SocketPath)
	host.Call(ctxT(t), w, testproto.Crash, 3)
	<-w.Exited()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory %s after the worker crashed: Stat = %v, want it gone", dir, err)
	}
}

// TestMismatchErrorsAreTyped: Start and Attach report a serializer
// mismatch as the same *handshake.SerializerMismatchError, rebuilt from
// the worker's error code, never from its text.
func TestMismatchErrorsAreTyped(t *testing.T) {
	want := handshake.SerializerMismatchError{Host: "msgpack", Worker: "json"}
	check := func(what string, err error) {
		t.Helper()
		var sm *handshake.SerializerMismatchError
		if !errors.As(err, &sm) || *sm != want {
			t.Errorf("%s = %v, want an error matching *handshake.SerializerMismatchError %+v", what, err, want)
		}
	}

	cfg, _ := config(t)
	cfg.Serializer = shared.MsgPack{}
	if w, err := host.Start(ctxT(t), cfg); err == nil {
		w.Close()
		t.Error("Start with a msgpack host and a json worker succeeded")
	} else {
		check("Start (ready pipe)", err)
	}

	w, _ := startArgs(t, "-keepalive")
	rc := w.ReattachConfig()
	if err := w.Disconnect(); err != nil {
		t.Fatal(err)
	}
	acfg, _ := config(t)
	acfg.Serializer = shared.MsgPack{}
	_, err := host.Attach(ctxT(t), rc, acfg)
	check("Attach (reattach config)", err)

	// A config that claims the host's serializer: the worker refuses in
	// the hello, with a code.
	rc.Serializer = "msgpack"
	_, err = host.Attach(ctxT(t), rc, acfg)
	check("Attach (worker's refusal)", err)
	var refused *host.RefusedError
	if !errors.As(err, &refused) || refused.Code != handshake.CodeSerializerMismatch {
		t.Errorf("Attach (worker's refusal) = %v, want a *host.RefusedError with code %q", err, handshake.CodeSerializerMismatch)
	}
}
