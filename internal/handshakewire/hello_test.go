package handshakewire_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

func TestWriteHello(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{
			v:    handshakewire.HostHello{Token: "tok", ProtocolVersion: 2, Serializer: "json", Fingerprint: "json/0a/1", PID: 100, LogLevel: "debug"},
			want: `{"token":"tok","protocolVersion":2,"serializer":"json","fingerprint":"json/0a/1","pid":100,"logLevel":"debug"}` + "\n",
		},
		{
			v:    handshakewire.HostHello{Token: "tok", ProtocolVersion: 1, Serializer: "json", Fingerprint: "f", PID: 1},
			want: `{"token":"tok","protocolVersion":1,"serializer":"json","fingerprint":"f","pid":1}` + "\n",
		},
		{
			v:    handshakewire.WorkerHello{ProtocolVersion: 1, Serializer: "json", Fingerprint: "f", PID: 7, Messages: []string{"echo", "ping"}, DisconnectBehavior: "shutdown"},
			want: `{"protocolVersion":1,"serializer":"json","fingerprint":"f","pid":7,"messages":["echo","ping"],"disconnectBehavior":"shutdown"}` + "\n",
		},
		{
			v:    handshakewire.WorkerHello{ProtocolVersion: 1, Serializer: "json", Fingerprint: "f", PID: 7, MaxFrameSize: 4096, MaxRawSize: 1 << 20},
			want: `{"protocolVersion":1,"serializer":"json","fingerprint":"f","pid":7,"maxFrameSize":4096,"maxRawSize":1048576}` + "\n",
		},
		{
			v:    handshakewire.WorkerHello{Error: "authentication failed: wrong auth token from pid 9"},
			want: `{"error":"authentication failed: wrong auth token from pid 9"}` + "\n",
		},
		{
			v:    handshakewire.Control{Op: handshakewire.OpShutdown},
			want: `{"op":"shutdown"}` + "\n",
		},
		{
			v:    handshakewire.Control{Op: handshakewire.OpGoodbye, Reason: "host disconnected"},
			want: `{"op":"goodbye","reason":"host disconnected"}` + "\n",
		},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := handshakewire.WriteHello(&buf, tt.v); err != nil {
			t.Errorf("WriteHello(%+v) = %v, want nil", tt.v, err)
			continue
		}
		if got := buf.String(); got != tt.want {
			t.Errorf("WriteHello(%+v) wrote %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestWriteHelloError(t *testing.T) {
	if err := handshakewire.WriteHello(io.Discard, func() {}); err == nil {
		t.Errorf("WriteHello(a func) = nil, want a marshal error")
	}
	werr := errors.New("broken pipe")
	if err := handshakewire.WriteHello(failWriter{werr}, handshakewire.Control{Op: "x"}); !errors.Is(err, werr) {
		t.Errorf("WriteHello(failing writer) = %v, want %v", err, werr)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestHelloRoundTrip(t *testing.T) {
	hh := handshakewire.HostHello{Token: strings.Repeat("ab", 32), ProtocolVersion: 3, Serializer: "msgpack", Fingerprint: "msgpack/0000/1", PID: 12, LogLevel: "trace"}
	wh := handshakewire.WorkerHello{ProtocolVersion: 3, Serializer: "msgpack", Fingerprint: "msgpack/0000/1", PID: 13,
		Messages: []string{"a", "b\n<c>"}, DisconnectBehavior: "keep-alive"}
	var buf bytes.Buffer
	for _, v := range []any{hh, wh} {
		if err := handshakewire.WriteHello(&buf, v); err != nil {
			t.Fatalf("WriteHello(%+v) = %v", v, err)
		}
	}
	br := bufio.NewReaderSize(iotest.OneByteReader(&buf), 16)
	var gotH handshakewire.HostHello
	if err := handshakewire.ReadHello(br, &gotH); err != nil {
		t.Fatalf("ReadHello(host hello) = %v, want nil", err)
	}
	if diff := cmp.Diff(hh, gotH); diff != "" {
		t.Errorf("ReadHello(host hello) mismatch (-want +got):\n%s", diff)
	}
	var gotW handshakewire.WorkerHello
	if err := handshakewire.ReadHello(br, &gotW); err != nil {
		t.Fatalf("ReadHello(worker hello) = %v, want nil", err)
	}
	if diff := cmp.Diff(wh, gotW); diff != "" {
		t.Errorf("ReadHello(worker hello) mismatch (-want +got):\n%s", diff)
	}
	var c handshakewire.Control
	if err := handshakewire.ReadHello(br, &c); err != io.EOF {
		t.Errorf("ReadHello(after the last line) = %v, want io.EOF", err)
	}
}

func TestReadHello(t *testing.T) {
	// line returns a JSON object line of exactly n bytes, newline included.
	line := func(n int) string {
		const pre, post = `{"op":"`, `"}` + "\n"
		return pre + strings.Repeat("x", n-len(pre)-len(post)) + post
	}
	tests := []struct {
		name    string
		in      string
		bufSize int
		want    handshakewire.Control
		wantErr string
		is      error // the error must match it with errors.Is
	}{
		{name: "one line", in: `{"op":"shutdown"}` + "\n", want: handshakewire.Control{Op: "shutdown"}},
		{name: "unknown fields ignored", in: `{"op":"goodbye","reason":"r","extra":[1,2]}` + "\n", want: handshakewire.Control{Op: "goodbye", Reason: "r"}},
		{name: "spaces and CRLF", in: ` { "op" : "goodbye" } ` + "\r\n", want: handshakewire.Control{Op: "goodbye"}},
		{name: "line longer than the buffer", in: line(5000), bufSize: 16, want: handshakewire.Control{Op: strings.Repeat("x", 5000-10)}},
		{name: "exactly MaxHelloSize", in: line(handshakewire.MaxHelloSize), want: handshakewire.Control{Op: strings.Repeat("x", handshakewire.MaxHelloSize-10)}},
		{name: "one byte over MaxHelloSize", in: line(handshakewire.MaxHelloSize + 1), wantErr: "hello exceeds 64 KiB", is: handshakewire.ErrHelloTooLarge},
		{name: "huge without newline", in: strings.Repeat("{", 1<<20), wantErr: "hello exceeds 64 KiB", is: handshakewire.ErrHelloTooLarge},
		{name: "empty stream", in: "", wantErr: "EOF", is: io.EOF},
		{name: "stream ends inside the line", in: `{"op":"shut`, wantErr: "unexpected EOF", is: io.ErrUnexpectedEOF},
		{name: "complete JSON without newline", in: `{"op":"shutdown"}`, wantErr: "unexpected EOF", is: io.ErrUnexpectedEOF},
		{name: "empty line", in: "\n", wantErr: "malformed hello: unexpected end of JSON input"},
		{name: "not JSON", in: "hello\n", wantErr: "malformed hello: invalid character 'h' looking for beginning of value"},
		{name: "wrong type", in: `{"op":7}` + "\n", wantErr: "malformed hello: json: cannot unmarshal number into Go struct field Control.op of type string"},
		{name: "two values on a line", in: `{"op":"a"}{"op":"b"}` + "\n", wantErr: "malformed hello: invalid character '{' after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.bufSize
			if size == 0 {
				size = 4096
			}
			var got handshakewire.Control
			err := handshakewire.ReadHello(bufio.NewReaderSize(strings.NewReader(tt.in), size), &got)
			if errText(err) != tt.wantErr {
				t.Fatalf("ReadHello(%.40q) = %q, want %q", tt.in, errText(err), tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("ReadHello(%.40q) = %v, want errors.Is %v", tt.in, err, tt.is)
			}
			if diff := cmp.Diff(tt.want, got); err == nil && diff != "" {
				t.Errorf("ReadHello(%.40q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestReadHelloReadError(t *testing.T) {
	boom := errors.New("stream reset")
	r := io.MultiReader(strings.NewReader(`{"op":`), iotest.ErrReader(boom))
	var c handshakewire.Control
	if err := handshakewire.ReadHello(bufio.NewReader(r), &c); !errors.Is(err, boom) {
		t.Errorf("ReadHello(reader failing mid-line) = %v, want %v", err, boom)
	}
}

func TestReadHelloMalformedWrapsJSONError(t *testing.T) {
	var c handshakewire.Control
	err := handshakewire.ReadHello(bufio.NewReader(strings.NewReader("[1]\n")), &c)
	if err == nil || !strings.HasPrefix(err.Error(), "malformed hello: ") {
		t.Fatalf("ReadHello([1]) = %v, want a malformed hello error", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("ReadHello([1]) = %v, which does not wrap the JSON error", err)
	}
}
