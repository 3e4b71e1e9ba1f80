package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

var sampleReattach = ReattachConfig{
	Name: "resize", SocketPath: "/tmp/iw-123/s", PID: 4242, ProtocolVersion: 2,
	Serializer: "msgpack", AuthToken: "0123456789abcdef",
}

func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestReattachConfigWriteFile(t *testing.T) {
	tests := []struct {
		name     string
		existing *fs.FileMode // nil: no file yet
		content  string
	}{
		{"new file", nil, ""},
		{"existing 0644 file", ptr(fs.FileMode(0o644)), "old content that is much longer than the new one will be, to check truncation " + strings.Repeat("x", 500)},
		{"existing 0666 file", ptr(fs.FileMode(0o666)), "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "reattach.json")
			if tt.existing != nil {
				if err := os.WriteFile(path, []byte(tt.content), *tt.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, *tt.existing); err != nil { // the umask may have narrowed it
					t.Fatal(err)
				}
			}
			if err := sampleReattach.WriteFile(path); err != nil {
				t.Fatalf("WriteFile(%s) = %v", path, err)
			}
			if got := fileMode(t, path); got != 0o600 {
				t.Errorf("mode of %s = %v, want -rw------- (it holds the auth token)", path, got)
			}
			got, err := ReadReattachConfig(path)
			if err != nil {
				t.Fatalf("ReadReattachConfig(%s) = %v", path, err)
			}
			if diff := cmp.Diff(sampleReattach, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestReattachConfigWriteFileError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "reattach.json")
	if err := sampleReattach.WriteFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile(%s) = %v, want an error wrapping fs.ErrNotExist", path, err)
	}
}

func TestReattachConfigJSONNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rc.json")
	if err := sampleReattach.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"name"`, `"socketPath"`, `"pid"`, `"protocolVersion"`, `"serializer"`, `"authToken"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("file %s lacks the key %s:\n%s", path, key, b)
		}
	}
}

func TestReadReattachConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing.json")
	notJSON := write("garbage.json", "this is not json")
	wrongType := write("wrongtype.json", `{"pid": "not a number"}`)
	empty := write("empty.json", "")

	tests := []struct {
		name       string
		path       string
		wantIs     error
		wantPrefix string
	}{
		{"missing file", missing, fs.ErrNotExist, "open " + missing},
		{"not JSON", notJSON, nil, "reattach config " + notJSON + ": invalid character"},
		{"wrong field type", wrongType, nil, "reattach config " + wrongType + ": json: cannot unmarshal string"},
		{"empty file", empty, nil, "reattach config " + empty + ": unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadReattachConfig(tt.path)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Errorf("ReadReattachConfig(%s) = %v, want an error starting %q", tt.path, err, tt.wantPrefix)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
		})
	}
}

// exitedPID returns the pid of a process that has exited and been reaped.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true (a process that exits at once): %v", err)
	}
	return cmd.Process.Pid
}

func TestAttachErrors(t *testing.T) {
	valid := ReattachConfig{Name: "w", SocketPath: filepath.Join(t.TempDir(), "s"), PID: os.Getpid(),
		ProtocolVersion: 1, Serializer: "json", AuthToken: "tok"}
	tests := []struct {
		name     string
		rc       func(rc *ReattachConfig)
		cfg      Config
		wantIs   error
		wantText string
	}{
		{"invalid config", func(*ReattachConfig) {}, Config{},
			nil, "handshake: MagicCookieKey and MagicCookieValue must be set"},
		{"serializer mismatch", func(*ReattachConfig) {}, Config{Handshake: testHandshake, Serializer: shared.MsgPack{}},
			nil, `attach worker "w": serializer mismatch: host uses msgpack, worker uses json`},
		{"no token", func(rc *ReattachConfig) { rc.AuthToken = "" }, Config{Handshake: testHandshake},
			nil, `attach worker "w": reattach config is incomplete (socket path, pid, protocol version and auth token are required)`},
		{"no pid", func(rc *ReattachConfig) { rc.PID = 0 }, Config{Handshake: testHandshake},
			nil, `attach worker "w": reattach config is incomplete`},
		{"config name wins", func(rc *ReattachConfig) { rc.SocketPath = "" }, Config{Handshake: testHandshake, Name: "mine"},
			nil, `attach worker "mine": reattach config is incomplete`},
		{"process gone", func(rc *ReattachConfig) { rc.PID = exitedPID(t) }, Config{Handshake: testHandshake},
			ErrStaleReattach, `attach worker "w": stale reattach config: no process with pid`},
		{"socket gone", func(*ReattachConfig) {}, Config{Handshake: testHandshake},
			ErrStaleReattach, `attach worker "w": stale reattach config: socket ` + valid.SocketPath + ":"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := valid
			tt.rc(&rc)
			w, err := Attach(context.Background(), rc, tt.cfg)
			if err == nil {
				w.Close()
				t.Fatalf("Attach(%+v) = nil error, want %q", rc, tt.wantText)
			}
			if !strings.HasPrefix(err.Error(), tt.wantText) {
				t.Errorf("Attach(%+v) = %q, want it to start %q", rc, err, tt.wantText)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
		})
	}
}

// TestAttachReusedPID: a worker killed with kill -9 leaves its socket file;
// its pid now belongs to an unrelated process. Attach must say so, match
// ErrStaleReattach, and leave that process alone.
func TestAttachReusedPID(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // as a killed worker would: the file stays, nobody listens
	ln.Close()
	other := exec.Command("sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })

	rc := ReattachConfig{Name: "w", SocketPath: sock, PID: other.Process.Pid,
		ProtocolVersion: 1, Serializer: "json", AuthToken: "tok"}
	w, err := Attach(context.Background(), rc, Config{Handshake: testHandshake})
	if err == nil {
		w.Close()
		t.Fatalf("Attach(%+v) = nil error, want ErrStaleReattach", rc)
	}
	if !errors.Is(err, ErrStaleReattach) {
		t.Errorf("Attach(%+v) = %v, want an error matching ErrStaleReattach", rc, err)
	}
	want := fmt.Sprintf("pid %d is alive but socket %s refuses connections: the worker is gone and the pid was reused", rc.PID, sock)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Attach(%+v) = %q, want it to contain %q", rc, err, want)
	}
	if !pidAlive(other.Process.Pid) {
		t.Errorf("the unrelated process %d was signalled", other.Process.Pid)
	}
}
