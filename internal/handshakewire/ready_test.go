package handshakewire_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

func TestReadyLine(t *testing.T) {
	tests := []struct {
		version, pid int
		want         string
	}{
		{1, 4242, "ready 1 4242\n"},
		{12, 1, "ready 12 1\n"},
	}
	for _, tt := range tests {
		if got := handshakewire.ReadyLine(tt.version, tt.pid); got != tt.want {
			t.Errorf("ReadyLine(%d, %d) = %q, want %q", tt.version, tt.pid, got, tt.want)
		}
	}
}

func TestErrorLine(t *testing.T) {
	tests := []struct {
		msg, want string
	}{
		{"serializer mismatch: host uses json, worker uses msgpack", "error startup - serializer mismatch: host uses json, worker uses msgpack\n"},
		{"two\nlines\n", "error startup - two lines \n"},
		{"", "error startup - \n"},
	}
	for _, tt := range tests {
		if got := handshakewire.ErrorLine(tt.msg); got != tt.want {
			t.Errorf("ErrorLine(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestParseReady(t *testing.T) {
	tests := []struct {
		line         string
		version, pid int
		wantErr      string
		startupError bool // the error is a *StartupError
	}{
		{line: "ready 1 4242\n", version: 1, pid: 4242},
		{line: "ready 3 7", version: 3, pid: 7},
		{line: "ready  2   9 \n", version: 2, pid: 9},
		{line: "ready 2 9\r\n", version: 2, pid: 9},
		{
			line:         "error serializer mismatch: host uses json, worker uses msgpack\n",
			wantErr:      "serializer mismatch: host uses json, worker uses msgpack",
			startupError: true,
		},
		{
			line:         "error no common protocol version: host speaks [1 2], worker speaks [3]",
			wantErr:      "no common protocol version: host speaks [1 2], worker speaks [3]",
			startupError: true,
		},
		{line: "", wantErr: `malformed ready line ""`},
		{line: "\n", wantErr: `malformed ready line ""`},
		{line: "ready\n", wantErr: `malformed ready line "ready"`},
		{line: "ready 1\n", wantErr: `malformed ready line "ready 1"`},
		{line: "ready 1 2 3\n", wantErr: `malformed ready line "ready 1 2 3"`},
		{line: "ready one 2\n", wantErr: `malformed ready line "ready one 2"`},
		{line: "ready 1 two\n", wantErr: `malformed ready line "ready 1 two"`},
		{line: "ready 0 2\n", wantErr: `malformed ready line "ready 0 2"`},
		{line: "ready 1 0\n", wantErr: `malformed ready line "ready 1 0"`},
		{line: "ready -1 2\n", wantErr: `malformed ready line "ready -1 2"`},
		{line: "READY 1 2\n", wantErr: `malformed ready line "READY 1 2"`},
		{line: "ok\n", wantErr: `malformed ready line "ok"`},
		{line: "hello from a worker that prints to the pipe\n", wantErr: `malformed ready line "hello from a worker that prints to the pipe"`},
	}
	for _, tt := range tests {
		version, pid, err := handshakewire.ParseReady(tt.line)
		if version != tt.version || pid != tt.pid || errText(err) != tt.wantErr {
			t.Errorf("ParseReady(%q) = %d, %d, %q, want %d, %d, %q", tt.line, version, pid, errText(err), tt.version, tt.pid, tt.wantErr)
		}
		var se *handshake.StartupError
		if got := errors.As(err, &se); got != tt.startupError {
			t.Errorf("ParseReady(%q) error is a *StartupError: %v, want %v", tt.line, got, tt.startupError)
		}
	}
}

func TestParseReadyRoundTrip(t *testing.T) {
	for _, v := range [][2]int{{1, 1}, {2, 31337}, {1 << 20, 1 << 30}} {
		version, pid, err := handshakewire.ParseReady(handshakewire.ReadyLine(v[0], v[1]))
		if version != v[0] || pid != v[1] || err != nil {
			t.Errorf("ParseReady(ReadyLine(%d, %d)) = %d, %d, %v, want %d, %d, nil", v[0], v[1], version, pid, err, v[0], v[1])
		}
	}
	for _, msg := range []string{"listen on /tmp/x/s: address already in use", "multi\nline", ""} {
		_, _, err := handshakewire.ParseReady(handshakewire.ErrorLine(msg))
		var se *handshake.StartupError
		if !errors.As(err, &se) {
			t.Errorf("ParseReady(ErrorLine(%q)) = %v, want a *StartupError", msg, err)
		}
	}
}

// TestStartupErrorUnwrapsMismatches: an older worker writes error lines
// without a code; the mismatch errors are recognized from their text.
func TestStartupErrorUnwrapsMismatches(t *testing.T) {
	sm := &handshake.SerializerMismatchError{Host: "msgpack", Worker: "json"}
	vm := &handshake.VersionMismatchError{Host: []int{1, 2}, Worker: []int{3}}
	tests := []struct {
		msg        string
		serializer *handshake.SerializerMismatchError
		version    *handshake.VersionMismatchError
	}{
		{msg: sm.Error(), serializer: sm},
		{msg: "start worker: " + sm.Error(), serializer: sm},
		{msg: vm.Error(), version: vm},
		{msg: "no common protocol version: host speaks [], worker speaks [3]", version: &handshake.VersionMismatchError{Worker: []int{3}}},
		{msg: "listen on /x: permission denied"},
		{msg: "serializer mismatch: host uses a b, worker uses c"},
		{msg: "no common protocol version: host speaks [x], worker speaks [3]"},
	}
	for _, tt := range tests {
		_, _, err := handshakewire.ParseReady("error " + tt.msg + "\n")
		if err.Error() != tt.msg {
			t.Errorf("ParseReady error text = %q, want the worker's %q", err, tt.msg)
		}
		var gotS *handshake.SerializerMismatchError
		if errors.As(err, &gotS) != (tt.serializer != nil) || (gotS != nil && *gotS != *tt.serializer) {
			t.Errorf("%q: errors.As SerializerMismatchError = %v, want %v", tt.msg, gotS, tt.serializer)
		}
		var gotV *handshake.VersionMismatchError
		if errors.As(err, &gotV) != (tt.version != nil) || (gotV != nil && !slices.Equal(gotV.Host, tt.version.Host)) ||
			(gotV != nil && !slices.Equal(gotV.Worker, tt.version.Worker)) {
			t.Errorf("%q: errors.As VersionMismatchError = %v, want %v", tt.msg, gotV, tt.version)
		}
	}
}

// TestErrorLineForCodes: a worker's typed start-up errors travel as a code
// and fields, and come back as the same typed errors, whatever the text.
func TestErrorLineForCodes(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode string
	}{
		{"serializer", &handshake.SerializerMismatchError{Host: "json", Worker: "msg pack"}, handshake.CodeSerializerMismatch},
		{"wrapped serializer", fmt.Errorf("worker: %w", &handshake.SerializerMismatchError{Host: "a&b=c", Worker: "d"}), handshake.CodeSerializerMismatch},
		{"versions", &handshake.VersionMismatchError{Host: []int{1, 2}, Worker: []int{3}}, handshake.CodeVersionMismatch},
		{"no host versions", &handshake.VersionMismatchError{Worker: []int{3}}, handshake.CodeVersionMismatch},
		{"collision", &handshake.SerializerCollisionError{Name: "json", Host: "h", Worker: "w"}, handshake.CodeSerializerCollision},
		{"other", errors.New("listen on /x: permission denied"), handshake.CodeStartup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := handshakewire.ErrorLineFor(tt.err)
			_, _, err := handshakewire.ParseReady(line)
			var se *handshake.StartupError
			if !errors.As(err, &se) {
				t.Fatalf("ParseReady(%q) = %v, want a *StartupError", line, err)
			}
			if se.Code != tt.wantCode || se.Message != tt.err.Error() {
				t.Errorf("ParseReady(%q) = code %q, message %q, want %q, %q", line, se.Code, se.Message, tt.wantCode, tt.err.Error())
			}
			var want, got any
			var sm *handshake.SerializerMismatchError
			var vm *handshake.VersionMismatchError
			var sc *handshake.SerializerCollisionError
			switch {
			case errors.As(tt.err, &sm):
				var g *handshake.SerializerMismatchError
				errors.As(err, &g)
				want, got = sm, g
			case errors.As(tt.err, &vm):
				var g *handshake.VersionMismatchError
				errors.As(err, &g)
				want, got = vm, g
			case errors.As(tt.err, &sc):
				var g *handshake.SerializerCollisionError
				errors.As(err, &g)
				want, got = sc, g
			default:
				if errors.Unwrap(err) != nil {
					t.Errorf("ParseReady(%q) unwraps to %v, want nothing", line, errors.Unwrap(err))
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("typed error from %q (-want +got):\n%s", line, diff)
			}
		})
	}
}
