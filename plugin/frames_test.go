package plugin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// rawHost is a hand-written host for a worker served in this process: it
// writes requests byte for byte, as a real host (which refuses oversize
// requests before sending) never would.
type rawHost struct {
	hello   handshakewire.WorkerHello
	calls   *yamux.Stream
	replies *frame.Reader
	codec   *wire.Codec
}

func dialRawHost(t *testing.T, socket string) *rawHost {
	t.Helper()
	nc, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	ymx, err := yamux.Client(wire.FrameConn(nc), wire.YamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ymx.Close() })
	open := func(name string) *yamux.Stream {
		st, err := ymx.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.WriteStreamName(st, name); err != nil {
			t.Fatal(err)
		}
		return st
	}
	control := open(wire.StreamControl)
	err = handshakewire.WriteHello(control, handshakewire.HostHello{Token: "token", ProtocolVersion: 1, Serializer: "json",
		Fingerprint: shared.Fingerprint(shared.JSON{}), PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	h := &rawHost{codec: wire.NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)}
	if err := handshakewire.ReadHello(bufio.NewReader(control), &h.hello); err != nil {
		t.Fatalf("read worker hello: %v", err)
	}
	h.calls = open(wire.StreamCalls)
	h.replies = frame.NewReader(bufio.NewReader(h.calls), []byte("\n"), 1<<20)
	return h
}

// reply reads the next reply and returns it as text.
func (h *rawHost) reply(t *testing.T) string {
	t.Helper()
	hd, body, err := h.codec.Read(h.replies)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if hd.Kind == shared.KindError {
		var re shared.RemoteError
		h.codec.DecodeBody(&hd, body, &re)
		return fmt.Sprintf("%s error %s: %s", hd.ID, re.Code, re.Message)
	}
	return fmt.Sprintf("%s %s %s", hd.ID, hd.Kind, body)
}

// TestWorkerRefusesOversizeRequestAndKeepsServing: a request over the
// worker's MaxFrameSize gets an error reply naming both sizes, a message
// whose header is over it is skipped, and the connection goes on serving.
func TestWorkerRefusesOversizeRequestAndKeepsServing(t *testing.T) {
	r, fd := readyPipe(t)
	env := goodEnv(t, fd)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeContext(ctx, Config{Handshake: testHandshake, Getenv: mapEnv(env), MaxFrameSize: 4096,
			DisconnectBehavior: KeepAlive, Handlers: Handlers(Handle(Double, double))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeContext = %v", err)
		}
	}()
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil { // the worker is listening
		t.Fatalf("reading the ready line: %v", err)
	}
	h := dialRawHost(t, env[handshakewire.EnvSocketPath])
	if h.hello.MaxFrameSize != 4096 || h.hello.MaxRawSize != DefaultMaxRawSize {
		t.Errorf("worker hello states limits %d and %d, want 4096 and %d", h.hello.MaxFrameSize, h.hello.MaxRawSize, DefaultMaxRawSize)
	}
	big := "1" + strings.Repeat(" ", 8<<10-1) // a valid JSON int of 8 KiB
	steps := []struct {
		write, want string
	}{
		{`{"v":1,"k":1,"t":"double","id":"1","b":1}` + "\n" + big + "\n",
			"1 error frame_too_large: request of 8192 bytes exceeds the worker's MaxFrameSize 4096"},
		{`{"v":1,"k":1,"t":"double","id":"2","b":1}` + "\n21\n", "2 result 42"},
		// A header too large is skipped: it names no call to answer.
		{`{"v":1,"k":1,"t":"` + strings.Repeat("d", 8<<10) + `","id":"3"}` + "\n" +
			`{"v":1,"k":1,"t":"double","id":"4","b":1}` + "\n5\n", "4 result 10"},
	}
	for _, s := range steps {
		if _, err := io.WriteString(h.calls, s.write); err != nil {
			t.Fatalf("write request: %v", err)
		}
		if got := h.reply(t); got != s.want {
			t.Errorf("reply to %.60q... = %q, want %q", s.write, got, s.want)
		}
	}
}
