package plugin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// mapEnv returns a Getenv that reads from m.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// goodEnv returns a complete handshake environment; readyFD is the ready
// pipe's descriptor number.
func goodEnv(t *testing.T, readyFD int) map[string]string {
	t.Helper()
	return map[string]string{
		testHandshake.MagicCookieKey:      testHandshake.MagicCookieValue,
		handshakewire.EnvSocketPath:       filepath.Join(t.TempDir(), "s"),
		handshakewire.EnvSerializer:       "json",
		handshakewire.EnvProtocolVersions: "1",
		handshakewire.EnvAuthToken:        "token",
		handshakewire.EnvReadyFD:          strconv.Itoa(readyFD),
	}
}

func TestServeContextWithoutCookie(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"empty environment", map[string]string{}},
		{"wrong cookie value", map[string]string{testHandshake.MagicCookieKey: "no"}},
		{"no host's ready pipe", func() map[string]string {
			m := goodEnv(t, 99)
			delete(m, testHandshake.MagicCookieKey)
			delete(m, handshakewire.EnvReadyFD)
			return m
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ServeContext(context.Background(), Config{Handshake: testHandshake, Getenv: mapEnv(tt.env)})
			if !errors.Is(err, ErrNotLaunchedByHost) {
				t.Errorf("ServeContext(%v) = %v, want ErrNotLaunchedByHost", tt.env, err)
			}
		})
	}
}

// A host launched the worker (it set the socket and the ready pipe) with
// another handshake: the error says so instead of "not meant to be run
// directly", and it reaches the host on the ready pipe.
func TestServeContextCookieMismatch(t *testing.T) {
	// The worker closes the descriptor it is given: hand it a duplicate it
	// owns (readyPipe), never an *os.File's own, whose finalizer would
	// close that number again later, by then perhaps another test's socket.
	r, fd := readyPipe(t)
	env := goodEnv(t, fd)
	env[testHandshake.MagicCookieKey] = "another-build"
	err := ServeContext(context.Background(), Config{Handshake: testHandshake, Getenv: mapEnv(env)})
	if err == nil || errors.Is(err, ErrNotLaunchedByHost) || !strings.Contains(err.Error(), "magic cookie mismatch: the host set "+testHandshake.MagicCookieKey) {
		t.Fatalf("ServeContext = %v, want a magic cookie mismatch naming %s", err, testHandshake.MagicCookieKey)
	}
	line, _ := io.ReadAll(r)
	if !strings.Contains(string(line), "magic cookie mismatch") {
		t.Errorf("ready pipe got %q, want the mismatch", line)
	}
}

func TestServeContextBadEnv(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		value   string
		wantVar string
	}{
		{"no socket path", handshakewire.EnvSocketPath, "", handshakewire.EnvSocketPath},
		{"no serializer", handshakewire.EnvSerializer, "", handshakewire.EnvSerializer},
		{"no auth token", handshakewire.EnvAuthToken, "", handshakewire.EnvAuthToken},
		{"bad versions", handshakewire.EnvProtocolVersions, "one,two", handshakewire.EnvProtocolVersions},
		{"no versions", handshakewire.EnvProtocolVersions, "", handshakewire.EnvProtocolVersions},
		{"ready fd not a number", handshakewire.EnvReadyFD, "x", handshakewire.EnvReadyFD},
		{"ready fd is stderr", handshakewire.EnvReadyFD, "2", handshakewire.EnvReadyFD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := goodEnv(t, 99)
			env[tt.key] = tt.value
			err := ServeContext(context.Background(), Config{Handshake: testHandshake, Getenv: mapEnv(env)})
			if err == nil || !strings.Contains(err.Error(), tt.wantVar) {
				t.Errorf("ServeContext with %s=%q = %v, want an error naming %s", tt.key, tt.value, err, tt.wantVar)
			}
			if errors.Is(err, ErrNotLaunchedByHost) {
				t.Errorf("ServeContext with %s=%q = %v, must not be ErrNotLaunchedByHost", tt.key, tt.value, err)
			}
		})
	}
}

func TestServeContextInvalidConfig(t *testing.T) {
	err := ServeContext(context.Background(), Config{Getenv: mapEnv(nil)})
	const want = "handshake: MagicCookieKey and MagicCookieValue must be set"
	if err == nil || err.Error() != want {
		t.Errorf("ServeContext(Config{}) = %v, want %q", err, want)
	}
}

// readyPipe returns the read end of a pipe and the number of a duplicate of
// its write end, which ServeContext owns (and closes).
func readyPipe(t *testing.T) (*os.File, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := dupFile(w)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, fd
}

// Start-up failures the worker detects are written on the ready pipe, in
// the words the host reports.
func TestServeContextStartupErrorOnReadyPipe(t *testing.T) {
	tests := []struct {
		name   string
		modify func(env map[string]string, c *Config)
		want   string
	}{
		{"serializer mismatch", func(env map[string]string, c *Config) { env[handshakewire.EnvSerializer] = "msgpack" },
			"serializer mismatch: host uses msgpack, worker uses json"},
		{"serializer mismatch, worker msgpack", func(env map[string]string, c *Config) { c.Serializer = shared.MsgPack{} },
			"serializer mismatch: host uses json, worker uses msgpack"},
		{"no common version", func(env map[string]string, c *Config) {
			env[handshakewire.EnvProtocolVersions] = "1,2"
			c.Handshake.ProtocolVersions = []int{3, 4}
		}, "no common protocol version: host speaks [1 2], worker speaks [3 4]"},
		{"socket directory missing", func(env map[string]string, c *Config) {
			env[handshakewire.EnvSocketPath] = filepath.Join(t.TempDir(), "missing", "s")
		}, "listen on "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, fd := readyPipe(t)
			env := goodEnv(t, fd)
			c := Config{Handshake: testHandshake}
			tt.modify(env, &c)
			c.Getenv = mapEnv(env)
			err := ServeContext(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ServeContext = %v, want an error containing %q", err, tt.want)
			}
			line, rerr := bufio.NewReader(r).ReadString('\n')
			if rerr != nil {
				t.Fatalf("reading the ready pipe: %v (the worker must write its error and close it)", rerr)
			}
			_, _, perr := handshakewire.ParseReady(line)
			var se *handshake.StartupError
			if !errors.As(perr, &se) || !strings.Contains(se.Message, tt.want) {
				t.Errorf("ready pipe line %q parses to %v, want a StartupError containing %q", line, perr, tt.want)
			}
		})
	}
}

// A worker whose context is cancelled before any host connects stops
// cleanly, after writing its ready line and listening with mode 0600.
func TestServeContextReadyThenCancel(t *testing.T) {
	r, fd := readyPipe(t)
	env := goodEnv(t, fd)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- ServeContext(ctx, Config{Handshake: testHandshake, Getenv: mapEnv(env),
			Handlers: Handlers(Handle(Double, double))})
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v", err)
	}
	version, pid, err := handshakewire.ParseReady(line)
	if err != nil || version != 1 || pid != os.Getpid() {
		t.Errorf("ParseReady(%q) = %d, %d, %v, want 1, %d, nil", line, version, pid, err, os.Getpid())
	}
	st, err := os.Stat(env[handshakewire.EnvSocketPath])
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode = %v, want 0600", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeContext after cancel = %v, want nil", err)
	}
	if _, err := os.Stat(env[handshakewire.EnvSocketPath]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after ServeContext returned: %v, want it removed", err)
	}
}

// With no host, the worker gives up after HostConnectTimeout and returns
// nil (a clean exit).
func TestServeContextHostConnectTimeout(t *testing.T) {
	r, fd := readyPipe(t)
	env := goodEnv(t, fd)
	err := ServeContext(context.Background(), Config{Handshake: testHandshake, Getenv: mapEnv(env),
		HostConnectTimeout: shared.Duration(50 * time.Millisecond)})
	if err != nil {
		t.Errorf("ServeContext with no host = %v, want nil after HostConnectTimeout", err)
	}
	line, _ := bufio.NewReader(r).ReadString('\n')
	if version, _, err := handshakewire.ParseReady(line); err != nil || version != 1 {
		t.Errorf("ParseReady(%q) = %d, %v, want version 1", line, version, err)
	}
}
