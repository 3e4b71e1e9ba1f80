package handshake_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// TestProtocolDocExample keeps the hello lines of the worked example in
// PROTOCOL.md true: they are what WriteHello writes.
func TestProtocolDocExample(t *testing.T) {
	doc, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatalf("read PROTOCOL.md: %v", err)
	}
	const token = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	fp := shared.Fingerprint(shared.JSON{})
	for _, v := range []any{
		handshakewire.HostHello{Token: token, ProtocolVersion: 1, Serializer: "json", Fingerprint: fp, PID: 4100, LogLevel: "warn"},
		handshakewire.WorkerHello{ProtocolVersion: 1, Serializer: "json", Fingerprint: fp, PID: 4242, Messages: []string{"echo"}, DisconnectBehavior: "shutdown",
			MaxFrameSize: 16 << 20, MaxRawSize: 256 << 20},
		handshakewire.WorkerHello{Error: "authentication failed: wrong auth token from pid 4100", Code: handshake.CodeAuthFailed},
	} {
		var buf bytes.Buffer
		if err := handshakewire.WriteHello(&buf, v); err != nil {
			t.Fatalf("WriteHello(%+v) = %v", v, err)
		}
		line := strings.TrimSuffix(buf.String(), "\n")
		if !strings.Contains(string(doc), line) {
			t.Errorf("PROTOCOL.md does not show the hello as WriteHello writes it:\n%s", line)
		}
	}
	env := handshakewire.Env{SocketPath: "/tmp/iw-3712894/s", Serializer: "json", ProtocolVersions: []int{1}, AuthToken: token, ReadyFD: 3}
	want := strings.Join(env.Encode(handshake.Config{MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"}), "\n")
	if !strings.Contains(string(doc), want) {
		t.Errorf("PROTOCOL.md does not show the environment as Env.Encode writes it:\n%s", want)
	}
	if line := strings.TrimSuffix(handshakewire.ReadyLine(1, 4242), "\n"); !strings.Contains(string(doc), "`"+line+`\n`+"`") {
		t.Errorf("PROTOCOL.md does not show the ready line %q", line)
	}
	for _, err := range []error{
		&handshake.SerializerMismatchError{Host: "<host's>", Worker: "<worker's>"},
		&handshake.VersionMismatchError{Host: []int{1, 2}, Worker: []int{3, 4}},
	} {
		line := strings.TrimSuffix(handshakewire.ErrorLineFor(err), "\n")
		line = strings.NewReplacer("%3C", "<", "%3E", ">", "%27", "'").Replace(line)
		if !strings.Contains(string(doc), "`"+line+`\n`+"`") {
			t.Errorf("PROTOCOL.md does not show the error line %q", line)
		}
	}
}
