package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// alive reports whether pid exists and is not a zombie (on every OS:
// internal/proc).
func alive(pid int) bool { return proc.Alive(pid) }

func TestDetachedWorkerOutlivesHostAndIsReattached(t *testing.T) {
	rcPath := filepath.Join(t.TempDir(), "reattach.json")
	if err := runHostProcess(t, "detached-host", "-keepalive -host-connect-timeout 20s", rcPath).Run(); err != nil {
		t.Fatalf("first host process: %v", err)
	}
	st, err := os.Stat(rcPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("reattach config mode = %o, want 600 (it holds the auth token)", mode)
	}
	rc, err := host.ReadReattachConfig(rcPath)
	if err != nil {
		t.Fatal(err)
	}
	if !alive(rc.PID) {
		t.Fatalf("detached worker %d died with its host", rc.PID)
	}
	cfg, sink := config(t)
	w, err := host.Attach(ctxT(t), rc, cfg)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	defer w.Close()
	got, err := host.Call(ctxT(t), w, testproto.Ping, "second host")
	if err != nil || got != "pong:second host" {
		t.Fatalf("Call after Attach = %q, %v", got, err)
	}
	// What the worker logged while it had no host reaches the new host.
	eventually(t, "the log record from the detached interval", func() bool {
		return sink.find("waiting for a new host") != nil
	})
	if _, err := host.Call(ctxT(t), w, testproto.Log, testproto.LogReq{Level: "info", Message: "after reattach"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a live log record after reattach", func() bool { return sink.find("after reattach") != nil })

	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	eventually(t, "the worker to exit after Close", func() bool { return !alive(rc.PID) })
	if _, err := os.Stat(filepath.Dir(rc.SocketPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory %s still exists after Close (stat: %v)", filepath.Dir(rc.SocketPath), err)
	}

	// The config is now stale.
	_, err = host.Attach(ctxT(t), rc, cfg)
	// The pid is gone (or a zombie awaiting its new parent), the socket too.
	if !errors.Is(err, host.ErrStaleReattach) || !strings.Contains(err.Error(), "stale reattach config") {
		t.Errorf("Attach with a stale config = %v, want ErrStaleReattach", err)
	}
}

func TestReattachRefusesReusedPid(t *testing.T) {
	w, _ := startArgs(t, "-keepalive")
	if err := w.Disconnect(); err != nil {
		t.Fatal(err)
	}
	rc := w.ReattachConfig()
	// A live process that is not the worker (this test) now has the pid.
	rc.PID = os.Getpid()
	cfg, _ := config(t)
	_, err := host.Attach(ctxT(t), rc, cfg)
	want := fmt.Sprintf("is served by pid %d, not %d", w.PID(), os.Getpid())
	if !errors.Is(err, host.ErrStaleReattach) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Attach with a reused pid = %v, want ErrStaleReattach containing %q", err, want)
	}
	// The worker is untouched and still takes its host back.
	if err := w.Reconnect(ctxT(t)); err != nil {
		t.Fatalf("Reconnect after the refused attach: %v", err)
	}
	if _, err := host.Call(ctxT(t), w, testproto.Ping, "x"); err != nil {
		t.Fatal(err)
	}
}

func TestReattachConfigErrors(t *testing.T) {
	w, _ := startArgs(t, "-keepalive")
	good := w.ReattachConfig()
	tests := []struct {
		name   string
		modify func(*host.ReattachConfig)
		want   string
	}{
		{"socket gone", func(rc *host.ReattachConfig) { rc.SocketPath = "/nonexistent/iw-x/s" }, "stale reattach config: socket /nonexistent/iw-x/s"},
		{"serializer", func(rc *host.ReattachConfig) { rc.Serializer = "msgpack" }, "serializer mismatch: host uses json, worker uses msgpack"},
		{"incomplete", func(rc *host.ReattachConfig) { rc.AuthToken = "" }, "reattach config is incomplete"},
		{"already has a host", func(rc *host.ReattachConfig) {}, "worker already serves a host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := good
			tt.modify(&rc)
			cfg, _ := config(t)
			w2, err := host.Attach(ctxT(t), rc, cfg)
			if err == nil {
				w2.Close()
				t.Fatal("Attach succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Attach = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWorkerExitsWhenHostDies(t *testing.T) {
	pidPath := filepath.Join(t.TempDir(), "pid")
	cmd := runHostProcess(t, "hang-host", "", pidPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	eventually(t, "the hang host to start its worker", func() bool {
		b, _ := os.ReadFile(pidPath)
		pid, _ = strconv.Atoi(string(b))
		return pid > 0
	})
	cmd.Process.Kill()
	cmd.Wait()
	eventually(t, "the orphaned worker to exit", func() bool { return !alive(pid) })
}

func TestKeepAliveWorkerWaitsBoundedForNewHost(t *testing.T) {
	rcPath := filepath.Join(t.TempDir(), "reattach.json")
	if err := runHostProcess(t, "detached-host", "-keepalive -host-connect-timeout 300ms", rcPath).Run(); err != nil {
		t.Fatalf("first host process: %v", err)
	}
	rc, err := host.ReadReattachConfig(rcPath)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the keep-alive worker to give up waiting", func() bool { return !alive(rc.PID) })
	if _, err := os.Stat(rc.SocketPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("worker left its socket behind: %v", err)
	}
	os.RemoveAll(filepath.Dir(rc.SocketPath))
}

// launchWithoutConnecting starts the test worker the way a host does but
// never connects, and returns its exit status.
func launchWithoutConnecting(t *testing.T, args ...string) (int, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(bins["testworker"], append([]string{"-stdout-lines", "0"}, args...)...)
	cmd.Env = append(os.Environ(), handshakewire.Env{
		SocketPath: filepath.Join(dir, "s"), Serializer: "json", ProtocolVersions: []int{1},
		AuthToken: "t", ReadyFD: 3,
	}.Encode(testproto.Handshake)...)
	cmd.ExtraFiles = []*os.File{w}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), time.Since(start)
	}
	return 0, time.Since(start)
}

func TestHostConnectTimeoutAtStartup(t *testing.T) {
	code, _ := launchWithoutConnecting(t, "-host-connect-timeout", "200ms")
	if code != 0 {
		t.Errorf("worker with no host exited with status %d, want a clean 0", code)
	}
}

func TestDisconnectShutdownBehavior(t *testing.T) {
	cfg, _ := config(t) // plugin.ExitOnDisconnect is the default
	started := callsStarted(&cfg, 1)
	w := start(t, cfg)
	errc := make(chan error, 1)
	go func() {
		_, err := host.Call(context.Background(), w, testproto.Sleep, 10_000)
		errc <- err
	}()
	waitStarted(t, started, 1)
	if err := w.Disconnect(); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if err := <-errc; !errors.Is(err, host.ErrDisconnected) {
		t.Errorf("pending call after Disconnect = %v, want ErrDisconnected", err)
	}
	if w.IsConnected() {
		t.Error("IsConnected() = true after Disconnect")
	}
	<-w.Exited()
	err := w.Reconnect(ctxT(t))
	if !errors.Is(err, host.ErrWorkerTerminated) || !strings.Contains(err.Error(), "worker process terminated") {
		t.Errorf("Reconnect to a shutdown-mode worker = %v, want 'worker process terminated'", err)
	}
}

func TestDisconnectKeepAliveAndReconnect(t *testing.T) {
	w, _ := startArgs(t, "-keepalive")
	pid, _ := host.Call(ctxT(t), w, testproto.Pid, "")
	if err := w.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if w.IsConnected() || !w.IsActive() {
		t.Fatalf("after Disconnect IsConnected=%v IsActive=%v, want false true", w.IsConnected(), w.IsActive())
	}
	if _, err := host.Call(ctxT(t), w, testproto.Ping, "x"); !errors.Is(err, host.ErrDisconnected) {
		t.Errorf("Call while disconnected = %v, want ErrDisconnected", err)
	}
	// Reconnect at once, many times: the worker may not have finished with
	// the old connection when the new one says hello, and must wait for it
	// rather than refuse.
	for i := range 10 {
		if i > 0 {
			if err := w.Disconnect(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Reconnect(ctxT(t)); err != nil {
			t.Fatalf("Reconnect %d: %v", i, err)
		}
		got, err := host.Call(ctxT(t), w, testproto.Pid, "")
		if err != nil || got != pid {
			t.Fatalf("after Reconnect %d pid = %d, %v, want the same worker %d", i, got, err, pid)
		}
	}
}

func TestKeepAliveWorkerExitsAfterHostConnectTimeout(t *testing.T) {
	w, _ := startArgs(t, "-keepalive", "-host-connect-timeout", "200ms")
	if err := w.Disconnect(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("keep-alive worker did not exit after HostConnectTimeout")
	}
	err := w.Reconnect(ctxT(t))
	if !errors.Is(err, host.ErrWorkerTerminated) || !strings.Contains(err.Error(), "keep-alive, so it exited on its own: after HostConnectTimeout") {
		t.Errorf("Reconnect to the exited keep-alive worker = %v, want ErrWorkerTerminated explaining HostConnectTimeout", err)
	}
}

func TestConnectionLostFailsInFlightCallsAtOnce(t *testing.T) {
	cfg, _ := config(t, "-keepalive")
	started := callsStarted(&cfg, 5)
	w := start(t, cfg)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = host.Call(ctx, w, testproto.Sleep, 30_000)
		}()
	}
	waitStarted(t, started, len(errs))
	start := time.Now()
	if _, err := host.Call(ctx, w, testproto.DropConn, ""); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, host.ErrConnectionLost) {
			t.Errorf("in-flight call = %v, want ErrConnectionLost", err)
		}
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("in-flight calls failed after %v, not at once", waited)
	}
	if w.IsConnected() || !w.IsActive() {
		t.Errorf("after losing the connection IsConnected=%v IsActive=%v, want false true", w.IsConnected(), w.IsActive())
	}
	if err := w.Reconnect(ctx); err != nil {
		t.Fatalf("Reconnect after connection loss: %v", err)
	}
	if got, err := host.Call(ctx, w, testproto.Ping, "again"); err != nil || got != "pong:again" {
		t.Errorf("Call on the new connection = %q, %v", got, err)
	}
}

func TestReconnectRetriesWithCustomDelays(t *testing.T) {
	cfg, _ := config(t, "-keepalive")
	var mu sync.Mutex
	var attempts []int
	hidden := ""
	cfg.Connection = host.Connection{Attempts: 4, DelayFunc: func(n int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, n)
		if n == 1 && hidden != "" {
			os.Rename(hidden, strings.TrimSuffix(hidden, ".hidden")) // the socket comes back
		}
		return 10 * time.Millisecond
	}}
	w := start(t, cfg)
	if err := w.Disconnect(); err != nil {
		t.Fatal(err)
	}
	sock := w.ReattachConfig().SocketPath
	mu.Lock()
	attempts, hidden = nil, sock+".hidden"
	mu.Unlock()
	if err := os.Rename(sock, sock+".hidden"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reconnect(ctxT(t)); err != nil {
		t.Fatalf("Reconnect: %v", err)
	}
	mu.Lock()
	got := fmt.Sprint(attempts)
	mu.Unlock()
	if got != "[0 1]" {
		t.Errorf("delay function called for retries %s, want [0 1] (two failed dials, then success)", got)
	}
}

func TestReconnectErrors(t *testing.T) {
	tests := []struct {
		name  string
		delay func(int) time.Duration
		want  string
	}{
		{"negative delay", func(int) time.Duration { return -time.Second }, "delay function must return a non-negative duration"},
		{"attempts exhausted", func(int) time.Duration { return time.Millisecond }, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := config(t, "-keepalive")
			cfg.Connection = host.Connection{Attempts: 3, DelayFunc: tt.delay}
			w := start(t, cfg)
			w.Disconnect()
			sock := w.ReattachConfig().SocketPath
			os.Rename(sock, sock+".hidden")
			defer os.Rename(sock+".hidden", sock)
			err := w.Reconnect(ctxT(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Reconnect = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A disconnected keep-alive worker has no connection to be asked on: Close
// stops it with SIGTERM (a clean stop), not by waiting out GracePeriod and
// killing it.
func TestCloseStopsDisconnectedWorker(t *testing.T) {
	const killed = "did not exit in time"
	t.Run("started", func(t *testing.T) {
		cfg, sink := config(t, "-keepalive")
		cfg.GracePeriod = time.Minute // a kill would only come after a minute
		w := start(t, cfg)
		if err := w.Disconnect(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if w.IsActive() || alive(w.PID()) {
			t.Errorf("worker %d still runs after Close", w.PID())
		}
		if r := sink.find(killed); r != nil {
			t.Errorf("Close killed the worker: %v", r)
		}
	})
	t.Run("attached", func(t *testing.T) {
		first, _ := startArgs(t, "-keepalive")
		if err := first.Disconnect(); err != nil {
			t.Fatal(err)
		}
		cfg, sink := config(t)
		cfg.GracePeriod = time.Minute
		w, err := host.Attach(ctxT(t), first.ReattachConfig(), cfg)
		if err != nil {
			t.Fatalf("Attach: %v", err)
		}
		if err := w.Disconnect(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-first.Exited():
		case <-time.After(10 * time.Second):
			t.Fatal("attached worker still runs 10s after Close")
		}
		if r := sink.find(killed); r != nil {
			t.Errorf("Close killed the attached worker: %v", r)
		}
	})
}

// A host that connects while a Shutdown-mode worker's host is still
// attached waits for it; when that host disconnects the worker exits, and
// the waiting host is told so instead of being accepted by a worker on its
// way out.
func TestHostWaitingOnShutdownWorkerIsRefused(t *testing.T) {
	first, firstLog := startArgs(t)
	cfg, _ := config(t)
	errc := make(chan error, 1)
	go func() {
		w, err := host.Attach(ctxT(t), first.ReattachConfig(), cfg)
		if err == nil {
			w.Close()
		}
		errc <- err
	}()
	// The worker tells its connected host, at debug level, when a new host
	// starts waiting for it to disconnect (for up to 2 s).
	eventually(t, "the second host to wait in the worker", func() bool {
		return firstLog.find("a new host waits for the connected one to disconnect") != nil
	})
	if err := first.Disconnect(); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var refused *host.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "worker is shutting down") ||
		!strings.Contains(err.Error(), "start a new worker") {
		t.Fatalf("Attach while the worker shuts down = %v, want a RefusedError saying it is shutting down", err)
	}
}
