//go:build unix

package e2e

// Tests of what go-plugin users expect (issue 13, item 3): SecureConfig,
// UnixSocketConfig, a runner hook, hclog JSON on stderr, and a Group that
// closes every worker (CleanupClients).

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// sha256File returns the SHA-256 of the file at path.
func sha256File(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// pingPID checks that w answers a call and returns the pid the worker
// process reports for itself.
func pingPID(t *testing.T, w *host.Worker) int {
	t.Helper()
	if got, err := host.Call(ctxT(t), w, testproto.Ping, "x"); err != nil || got != "pong:x" {
		t.Fatalf("Call(Ping, x) = %q, %v, want pong:x, nil", got, err)
	}
	pid, err := host.Call(ctxT(t), w, testproto.Pid, "")
	if err != nil {
		t.Fatalf("Call(Pid) = %v", err)
	}
	return pid
}

func TestSecureConfigStartsAMatchingExecutable(t *testing.T) {
	bin := bins["testworker"]
	sum := sha256File(t, bin)
	t.Run("absolute path", func(t *testing.T) {
		cfg, _ := config(t)
		cfg.SecureConfig = &host.SecureConfig{Checksum: sum, Hash: sha256.New}
		pingPID(t, start(t, cfg))
	})
	t.Run("path relative to Cmd.Dir", func(t *testing.T) {
		// exec runs a relative Path relative to Dir: the checksum must be
		// of that file, not of one relative to the host's directory.
		cfg, _ := config(t)
		cfg.Cmd = exec.Command("./" + filepath.Base(bin))
		cfg.Cmd.Dir = filepath.Dir(bin)
		cfg.SecureConfig = &host.SecureConfig{Checksum: sum, Hash: sha256.New}
		pingPID(t, start(t, cfg))
	})
}

func TestSecureConfigRefusesAMismatch(t *testing.T) {
	bin := bins["testworker"]
	want := sha256File(t, bin)
	want[0] ^= 0xff
	cfg, _ := config(t)
	cfg.SecureConfig = &host.SecureConfig{Checksum: want, Hash: sha256.New}
	w, err := host.Start(ctxT(t), cfg)
	if err == nil {
		w.Close()
		t.Fatal("Start with a wrong checksum succeeded, want a *host.ChecksumError")
	}
	if !errors.Is(err, host.ErrChecksumMismatch) {
		t.Errorf("Start error = %v, want it to match host.ErrChecksumMismatch", err)
	}
	var ce *host.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("Start error = %v, want a *host.ChecksumError", err)
	}
	if ce.Path != bin || string(ce.Want) != string(want) || string(ce.Got) != string(sha256File(t, bin)) {
		t.Errorf("ChecksumError = {Path: %s, Want: %x, Got: %x}, want {%s, %x, the file's sum}", ce.Path, ce.Want, ce.Got, bin, want)
	}
	if cfg.Cmd.Process != nil {
		t.Errorf("the worker was spawned (pid %d) although its checksum did not match", cfg.Cmd.Process.Pid)
	}
	if !strings.Contains(err.Error(), `start worker "testworker"`) || !strings.Contains(err.Error(), "refusing to start it") {
		t.Errorf("Start error = %q, want it to name the worker and say it refused", err)
	}
}

func TestSecureConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		sc   *host.SecureConfig
		want string
	}{
		{"no checksum", &host.SecureConfig{Hash: sha256.New}, "SecureConfig.Checksum is empty"},
		{"no hash", &host.SecureConfig{Checksum: make([]byte, 32)}, "SecureConfig.Hash is nil"},
		{"checksum of another size", &host.SecureConfig{Checksum: make([]byte, 20), Hash: sha256.New}, "Checksum is 20 bytes, its Hash gives 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := config(t)
			cfg.SecureConfig = tt.sc
			if w, err := host.Start(ctxT(t), cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				if w != nil {
					w.Close()
				}
				t.Errorf("Start = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	cfg, _ := config(t)
	cfg.SecureConfig = &host.SecureConfig{Checksum: make([]byte, 32), Hash: sha256.New}
	if _, err := host.Attach(ctxT(t), host.ReattachConfig{}, cfg); err == nil || !strings.Contains(err.Error(), "SecureConfig") {
		t.Errorf("Attach with a SecureConfig = %v, want a refusal naming SecureConfig", err)
	}
}

// socketBase returns a short directory of the test's own for sockets.
func socketBase(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "iw-base-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestUnixSocketTempDir(t *testing.T) {
	base := socketBase(t)
	cfg, _ := config(t)
	cfg.UnixSocket.TempDir = base
	w := start(t, cfg)
	pingPID(t, w)
	sock := w.ReattachConfig().SocketPath
	if filepath.Dir(filepath.Dir(sock)) != base {
		t.Errorf("socket %s, want it in a private directory in %s", sock, base)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left, _ := os.ReadDir(base); len(left) != 0 {
		t.Errorf("after Close %s holds %v, want nothing left", base, left)
	}
}

func TestUnixSocketConfigErrors(t *testing.T) {
	deep := filepath.Join(socketBase(t), strings.Repeat("d", 100))
	if err := os.Mkdir(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(socketBase(t), "file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name string
		u    host.UnixSocketConfig
		want string
	}{
		{"missing directory", host.UnixSocketConfig{TempDir: "/nonexistent/iw"}, "UnixSocket.TempDir: stat /nonexistent/iw: no such file or directory"},
		{"not a directory", host.UnixSocketConfig{TempDir: file}, "is not a directory"},
		{"too deep", host.UnixSocketConfig{TempDir: deep}, "limit 103; set UnixSocket.TempDir to a shorter path"},
		{"unknown group", host.UnixSocketConfig{Group: "iw-no-such-group"}, "UnixSocket.Group: group: unknown group iw-no-such-group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := config(t)
			cfg.UnixSocket = tt.u
			w, err := host.Start(ctxT(t), cfg)
			if err == nil {
				w.Close()
				t.Fatalf("Start = nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start error = %q, want it to contain %q", err, tt.want)
			}
			if cfg.Cmd.Process != nil {
				t.Errorf("the worker was spawned although its socket could not be placed")
			}
		})
	}
	cfg, _ := config(t)
	cfg.UnixSocket.Group = "iw-no-such-group"
	var unknown user.UnknownGroupError
	if _, err := host.Start(ctxT(t), cfg); !errors.As(err, &unknown) {
		t.Errorf("Start with an unknown group = %v, want a user.UnknownGroupError", err)
	}
}

func TestUnixSocketGroup(t *testing.T) {
	gid := os.Getgid()
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Fatalf("look up this process's group %d: %v", gid, err)
	}
	for _, group := range []string{g.Name, g.Gid} {
		t.Run(group, func(t *testing.T) {
			cfg, _ := config(t)
			cfg.UnixSocket.Group = group
			w := start(t, cfg)
			pingPID(t, w)
			sock := w.ReattachConfig().SocketPath
			for _, c := range []struct {
				path string
				mode os.FileMode
			}{{filepath.Dir(sock), 0o770}, {sock, 0o660}} {
				st, err := os.Stat(c.path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != c.mode {
					t.Errorf("%s mode = %v, want %v", c.path, st.Mode().Perm(), c.mode)
				}
				if got := st.Sys().(*syscall.Stat_t).Gid; int(got) != gid {
					t.Errorf("%s group = %d, want %d", c.path, got, gid)
				}
			}
		})
	}
}

// wrapperScript writes a shell script that runs its arguments with exec,
// as a runner's wrapper should, and returns its path.
func wrapperScript(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wrap.sh")
	script := "#!/bin/sh\n# a wrapper, as a sandbox or a container entry point would be\nexport WRAPPED=1\nexec \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunnerWrapsTheWorker(t *testing.T) {
	tests := []struct {
		name   string
		runner func(t *testing.T) host.Runner
	}{
		{"env", func(*testing.T) host.Runner { return host.Wrap("env", "IW_WRAPPED=1") }},
		{"nice", func(*testing.T) host.Runner { return host.Wrap("nice", "-n", "5") }},
		{"shell script", func(t *testing.T) host.Runner { return host.Wrap(wrapperScript(t)) }},
		{"rewritten by hand", func(*testing.T) host.Runner {
			return func(cmd *exec.Cmd) error {
				cmd.Args = append([]string{"/bin/sh", "-c", `exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
				cmd.Path = "/bin/sh"
				return nil
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := config(t, "-stdout-lines", "1")
			cfg.Runner = tt.runner(t)
			w := start(t, cfg)
			if got := pingPID(t, w); got != w.PID() {
				t.Errorf("the worker reports pid %d, Worker.PID() = %d: want the worker's own pid", got, w.PID())
			}
			if cfg.Cmd.Args[0] == bins["testworker"] || !slices.Contains(cfg.Cmd.Args, bins["testworker"]) {
				t.Errorf("command run = %q, want the wrapper, then the worker and its arguments", cfg.Cmd.Args)
			}
			pid := w.PID()
			if err := w.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if alive(pid) {
				t.Errorf("worker pid %d still runs after Close", pid)
			}
		})
	}
}

func TestRunnerThatBreaksTheHandshake(t *testing.T) {
	t.Run("clears the environment", func(t *testing.T) {
		cfg, _ := config(t)
		cfg.Runner = host.Wrap("env", "-i")
		_, err := host.Start(ctxT(t), cfg)
		var ee *host.ExitError
		if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "launched by its host") {
			t.Errorf("Start under env -i = %v, want the worker's exit saying it was not launched by its host", err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		cfg, _ := config(t)
		cfg.Runner = func(*exec.Cmd) error { return errors.New("no sandbox here") }
		_, err := host.Start(ctxT(t), cfg)
		if err == nil || !strings.Contains(err.Error(), "runner: no sandbox here") {
			t.Errorf("Start = %v, want the runner's error", err)
		}
		if cfg.Cmd.Process != nil {
			t.Errorf("the worker was spawned although its runner failed")
		}
	})
	t.Run("wrapper not found", func(t *testing.T) {
		cfg, _ := config(t)
		cfg.Runner = host.Wrap("iw-no-such-wrapper")
		_, err := host.Start(ctxT(t), cfg)
		if !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("Start = %v, want exec.ErrNotFound for the wrapper", err)
		}
	})
}

func TestStderrHclogJSONRecordsAreParsed(t *testing.T) {
	record := `{"@level":"error","@message":"disk full","@module":"store","@timestamp":"2026-01-02T03:04:05.000000Z","job":"42","attempt":3}`
	cfg, sink := config(t, "-stderr-text", record+"\nplain words on stderr\n{\"not\":\"hclog\"}")
	w := start(t, cfg)
	if err := w.Close(); err != nil { // Close returns after the worker's stderr is read
		t.Fatalf("Close: %v", err)
	}
	rec := sink.find("disk full")
	if rec == nil {
		t.Fatalf("no record with message %q; logged:\n%s", "disk full", sink)
	}
	for k, want := range map[string]any{
		"@level": "error", "@message": "disk full", "@module": "test.testworker.store",
		"job": "42", "attempt": float64(3), "stream": "stderr",
	} {
		if rec[k] != want {
			t.Errorf("record[%q] = %v, want %v (record %v)", k, rec[k], want, rec)
		}
	}
	if plain := sink.find("plain words on stderr"); plain == nil || plain["@level"] != "info" || plain["@message"] != "plain words on stderr" {
		t.Errorf("plain stderr line logged as %v, want it as it is at info", plain)
	}
	if other := sink.find(`{"not":"hclog"}`); other == nil || other["@level"] != "info" {
		t.Errorf("a JSON line that is not an hclog record logged as %v, want it as it is at info", other)
	}
}

func TestGroupClosesEveryWorker(t *testing.T) {
	g := host.NewGroup()
	t.Cleanup(func() { g.Close() })
	var pids []int
	for range 3 {
		cfg, _ := config(t)
		w, err := g.Start(ctxT(t), cfg)
		if err != nil {
			t.Fatalf("Group.Start: %v", err)
		}
		pingPID(t, w)
		pids = append(pids, w.PID())
	}
	ws := g.Workers()
	if len(ws) != 3 {
		t.Fatalf("Workers() = %d workers, want 3", len(ws))
	}
	if err := g.Close(); err != nil {
		t.Fatalf("Group.Close: %v", err)
	}
	for i, w := range ws {
		select {
		case <-w.Exited():
		default:
			t.Errorf("worker %d (pid %d) has not exited after Group.Close", i, w.PID())
		}
		if alive(pids[i]) {
			t.Errorf("worker pid %d still runs after Group.Close", pids[i])
		}
		if _, err := host.Call(ctxT(t), w, testproto.Ping, "x"); !errors.Is(err, host.ErrWorkerClosed) {
			t.Errorf("Call after Group.Close = %v, want ErrWorkerClosed", err)
		}
	}
	if got := g.Workers(); len(got) != 0 {
		t.Errorf("Workers() after Close = %d workers, want none", len(got))
	}
	cfg, _ := config(t)
	if w, err := g.Start(ctxT(t), cfg); !errors.Is(err, host.ErrGroupClosed) {
		if w != nil {
			w.Close()
		}
		t.Errorf("Group.Start after Close = %v, want ErrGroupClosed", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Group.Close = %v, want nil", err)
	}
}

func TestGroupWorkersLeavesOutExitedWorkers(t *testing.T) {
	g := host.NewGroup()
	t.Cleanup(func() { g.Close() })
	var ws []*host.Worker
	for range 2 {
		cfg, _ := config(t)
		w, err := g.Start(ctxT(t), cfg)
		if err != nil {
			t.Fatalf("Group.Start: %v", err)
		}
		ws = append(ws, w)
	}
	ws[0].Close()
	if got := g.Workers(); len(got) != 1 || got[0] != ws[1] {
		t.Errorf("Workers() after closing the first = %v, want only the second", got)
	}
}

func TestGroupCloseCancelsAStartUnderWay(t *testing.T) {
	g := host.NewGroup()
	cfg, _ := config(t, "-hang-at-start")
	spawning := make(chan struct{})
	cfg.Runner = func(*exec.Cmd) error { close(spawning); return nil }
	done := make(chan error, 1)
	go func() {
		w, err := g.Start(context.Background(), cfg)
		if w != nil {
			w.Close()
		}
		done <- err
	}()
	<-spawning
	if err := g.Close(); err != nil {
		t.Fatalf("Group.Close: %v", err)
	}
	// Close waits for starts under way, so the process the start spawned
	// is gone by now (and reading cfg.Cmd.Process does not race).
	if p := cfg.Cmd.Process; p != nil && alive(p.Pid) {
		t.Errorf("worker pid %d of the cancelled start still runs after Group.Close", p.Pid)
	}
	if err := <-done; !errors.Is(err, host.ErrGroupClosed) {
		t.Errorf("Group.Start cancelled by Close = %v, want ErrGroupClosed", err)
	}
}
