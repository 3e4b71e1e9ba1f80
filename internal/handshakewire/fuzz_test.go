package handshakewire_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

// FuzzParseEnv feeds ParseEnv arbitrary values for every variable the host
// sets. It must never panic; what it accepts must satisfy the contract and
// survive Encode and ParseEnv again unchanged.
func FuzzParseEnv(f *testing.F) {
	f.Add("d5f1c0de", "/tmp/iw-1/s", "json", "1,2", "tok", "3")
	f.Add("", "/tmp/iw-1/s", "json", "1", "tok", "3")
	f.Add("d5f1c0de", "", "", "", "", "")
	f.Add("d5f1c0de", "s", "msgpack", " 2 , 1 ", "t=k", "+4")
	f.Add("d5f1c0de", "s", "json", "1,,2", "t", "3")
	f.Add("d5f1c0de", "s", "json", "-1", "t", "2")
	f.Add("d5f1c0de", "s", "json", "9223372036854775808", "t", "99999999999999999999")
	f.Add("d5f1c0de", "s\x00", "j\n", "1\t", "\xff", "0x3")
	f.Fuzz(func(t *testing.T, cookie, socket, serializer, versions, token, fd string) {
		vars := map[string]string{
			testConfig.MagicCookieKey:         cookie,
			handshakewire.EnvSocketPath:       socket,
			handshakewire.EnvSerializer:       serializer,
			handshakewire.EnvProtocolVersions: versions,
			handshakewire.EnvAuthToken:        token,
			handshakewire.EnvReadyFD:          fd,
		}
		env, err := handshakewire.ParseEnv(testConfig, func(k string) string { return vars[k] })
		if cookie != testConfig.MagicCookieValue {
			// With the host's socket and ready pipe set, a host launched it
			// with another handshake (reported on that pipe); else by hand.
			var mismatch *handshakewire.CookieMismatchError
			if n, e := strconv.Atoi(fd); e == nil && n >= 3 && socket != "" {
				if !errors.As(err, &mismatch) || env.ReadyFD != n {
					t.Fatalf("ParseEnv(cookie %q, fd %q) = %+v, %v, want a CookieMismatchError and the ready pipe", cookie, fd, env, err)
				}
			} else if !errors.Is(err, handshake.ErrNotLaunchedByHost) {
				t.Fatalf("ParseEnv(cookie %q) = %v, want ErrNotLaunchedByHost", cookie, err)
			}
			return
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "handshake: ISOLATED_WORKERS_") {
				t.Fatalf("ParseEnv(%q) = %q, want an error naming the variable", vars, err)
			}
			if diff := cmp.Diff(handshakewire.Env{}, env); diff != "" {
				t.Fatalf("ParseEnv(%q) returned a partial Env with its error (-want +got):\n%s", vars, diff)
			}
			return
		}
		if env.SocketPath != socket || env.Serializer != serializer || env.AuthToken != token {
			t.Fatalf("ParseEnv(%q) = %+v, strings changed", vars, env)
		}
		if len(env.ProtocolVersions) == 0 || env.ReadyFD < 3 {
			t.Fatalf("ParseEnv(%q) = %+v, want versions and a descriptor of 3 or more", vars, env)
		}
		for _, v := range env.ProtocolVersions {
			if v < 1 {
				t.Fatalf("ParseEnv(%q) = %+v, accepted version %d", vars, env, v)
			}
		}
		again, err := handshakewire.ParseEnv(testConfig, environ(env.Encode(testConfig)))
		if err != nil {
			t.Fatalf("ParseEnv(Encode(%+v)) = %v, want nil", env, err)
		}
		if diff := cmp.Diff(env, again); diff != "" {
			t.Fatalf("ParseEnv(Encode(%+v)) mismatch (-want +got):\n%s", env, diff)
		}
	})
}

// FuzzHello reads arbitrary bytes as hello and control lines, as a worker
// reads a connecting peer's first line and a host reads the worker's
// answer. It must never panic; errors are the documented ones; what it
// accepts round-trips through WriteHello.
func FuzzHello(f *testing.F) {
	f.Add([]byte(`{"token":"t","protocolVersion":1,"serializer":"json","fingerprint":"f","pid":1}`+"\n"), uint8(0), false)
	f.Add([]byte(`{"protocolVersion":1,"serializer":"json","pid":2,"messages":["a","b"],"disconnectBehavior":"keep-alive"}`+"\n"), uint8(16), false)
	f.Add([]byte(`{"error":"authentication failed"}`+"\n"+`{"op":"goodbye","reason":"x"}`+"\n"), uint8(1), false)
	f.Add([]byte(`{"op":"shutdown"}`), uint8(2), false)
	f.Add([]byte("\n\n"), uint8(0), false)
	f.Add([]byte(`{"pid":1e400}`+"\n"), uint8(0), false)
	f.Add([]byte(`{"messages":["\ud800\u2028<>&"]}`+"\n"), uint8(1), false)
	f.Add([]byte("["), uint8(255), true)
	f.Add([]byte(`{"op":"`), uint8(2), true)
	// grow repeats the input past MaxHelloSize, so the fuzzer reaches the
	// size limit while mutating (and minimizing) small inputs.
	f.Fuzz(func(t *testing.T, in []byte, sel uint8, grow bool) {
		if grow && len(in) > 0 {
			in = bytes.Repeat(in, handshakewire.MaxHelloSize/len(in)+2)
		}
		br := bufio.NewReaderSize(bytes.NewReader(in), 16+int(sel))
		for i := 0; i < 4; i++ {
			var more bool
			switch (int(sel) + i) % 3 {
			case 0:
				more = helloRoundTrip[handshakewire.HostHello](t, br, in)
			case 1:
				more = helloRoundTrip[handshakewire.WorkerHello](t, br, in)
			default:
				more = helloRoundTrip[handshakewire.Control](t, br, in)
			}
			if !more {
				return
			}
		}
	})
}

// helloRoundTrip reads one line into a T, checks the error or the round
// trip, and reports whether another line may follow.
func helloRoundTrip[T any](t *testing.T, br *bufio.Reader, in []byte) bool {
	t.Helper()
	var v T
	err := handshakewire.ReadHello(br, &v)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, handshakewire.ErrHelloTooLarge):
		return false
	case strings.HasPrefix(err.Error(), "malformed hello: "):
		return true
	default:
		t.Fatalf("ReadHello(%.60q) = %v, not a documented error", in, err)
	}
	var buf bytes.Buffer
	if err := handshakewire.WriteHello(&buf, v); err != nil {
		t.Fatalf("WriteHello(%+v) = %v", v, err)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("WriteHello(%+v) wrote %q, not one line", v, buf.Bytes())
	}
	if buf.Len() > handshakewire.MaxHelloSize {
		return true // escaping may grow a line past the limit
	}
	var again T
	if err := handshakewire.ReadHello(bufio.NewReader(&buf), &again); err != nil {
		t.Fatalf("ReadHello(WriteHello(%+v)) = %v", v, err)
	}
	// omitempty drops an empty list: [] and no list are the same hello.
	if diff := cmp.Diff(v, again, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("ReadHello(WriteHello(%+v)) mismatch (-want +got):\n%s", v, diff)
	}
	return true
}

// FuzzParseReady parses arbitrary ready-pipe lines. It must never panic;
// a ready line gives positive numbers that ReadyLine formats back to an
// equivalent line; an error line keeps the worker's text.
func FuzzParseReady(f *testing.F) {
	for _, s := range []string{
		"ready 1 4242\n", "ready 2 1", "error serializer mismatch: host uses json, worker uses msgpack\n",
		"error serializer-mismatch host=json&worker=msgpack serializer mismatch: host uses json, worker uses msgpack\n",
		"error version-mismatch host=1,2&worker=3 no common protocol version\n", "error startup - listen failed\n", "error busy %zz x\n",
		"", "\n", "ready", "ready 0 1", "ready -1 -1", "ready 1 2 3", "ready +1 0x2", "error \n", "errorx", "ready 9223372036854775808 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		version, pid, err := handshakewire.ParseReady(line)
		var se *handshake.StartupError
		switch {
		case err == nil:
			if version < 1 || pid < 1 {
				t.Fatalf("ParseReady(%q) = %d, %d, nil, want positive numbers", line, version, pid)
			}
			v2, p2, err := handshakewire.ParseReady(handshakewire.ReadyLine(version, pid))
			if v2 != version || p2 != pid || err != nil {
				t.Fatalf("ParseReady(ReadyLine(%d, %d)) = %d, %d, %v", version, pid, v2, p2, err)
			}
		case errors.As(err, &se):
			// The message is the end of the line, as the worker wrote it.
			if !strings.HasSuffix(strings.TrimSuffix(line, "\n"), se.Message) || !strings.HasPrefix(line, "error ") {
				t.Fatalf("ParseReady(%q) = StartupError %q, want the end of the line", line, se.Message)
			}
			if version != 0 || pid != 0 {
				t.Fatalf("ParseReady(%q) = %d, %d with an error, want 0, 0", line, version, pid)
			}
			if !strings.Contains(se.Message, "\n") {
				// ErrorLine keeps the message whole when it fits in
				// MaxReadyLine and cuts it by design when it does not:
				// the round trip gives the message or its start.
				l := handshakewire.ErrorLine(se.Message)
				if len(l) > handshakewire.MaxReadyLine {
					t.Fatalf("ErrorLine(%d bytes) is %d bytes, over MaxReadyLine", len(se.Message), len(l))
				}
				_, _, err := handshakewire.ParseReady(l)
				var se2 *handshake.StartupError
				if !errors.As(err, &se2) || !strings.HasPrefix(se.Message, se2.Message) ||
					(len(l) < handshakewire.MaxReadyLine && se2.Message != se.Message) {
					t.Fatalf("ParseReady(ErrorLine(%q)) = %v, want the same StartupError or its start", se.Message, err)
				}
			}
		default:
			if !strings.HasPrefix(err.Error(), "malformed ready line ") || version != 0 || pid != 0 {
				t.Fatalf("ParseReady(%q) = %d, %d, %v", line, version, pid, err)
			}
		}
	})
}
