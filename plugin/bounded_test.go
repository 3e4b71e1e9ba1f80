package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Spam logs n records of about 1 KiB each.
var Spam = shared.NewMessage[int, int]("spam")

func spam(ctx context.Context, n int) (int, error) {
	line := strings.Repeat("x", 1<<10)
	for i := range n {
		Logger(ctx).Warn(line, "i", i)
	}
	return n, nil
}

// An error reply the outgoing middleware makes unencodable (a header over
// MaxFrameSize) still answers the call, with a plain error reply built
// without the middleware, so a host without a call timeout does not wait
// forever.
func TestUnencodableErrorReplyStillAnswers(t *testing.T) {
	bloat := func(_ context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir == shared.Outgoing && msg.Kind == shared.KindError {
			msg.Headers = map[string]string{"bloat": strings.Repeat("b", 8<<10)}
		}
		return nil
	}
	w := servePeer(t, Config{MaxFrameSize: 4 << 10, Middleware: []shared.Middleware{bloat}})
	hw := w.attach(t)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	_, err := host.Call(ctx, hw, Greet, "ann")
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Code != shared.CodeEncode {
		t.Fatalf("Call(Greet) with an unencodable error reply = %v, want a RemoteError with code %q", err, shared.CodeEncode)
	}
	// The connection still serves calls.
	callDouble(t, hw)
}

// A worker saying goodbye to a host that stopped reading its logs waits
// for them at most goodbyeFlushTimeout, then says goodbye and stops.
func TestGoodbyeDoesNotWaitForAHostThatStoppedReading(t *testing.T) {
	w := (&peerWorker{}).serve(t, Config{Handlers: Handlers(Handle(Spam, spam))})
	// The logs stream is opened with yamux's smallest window and never
	// read: the worker can write 256 KiB into it, then waits.
	ycfg := wire.YamuxConfig()
	ycfg.MaxStreamWindowSize = 256 << 10
	ymx, control := w.authenticateWith(t, ycfg)
	if _, err := openNamed(ymx, wire.StreamLogs); err != nil {
		t.Fatal(err)
	}
	calls, err := openNamed(ymx, wire.StreamCalls)
	if err != nil {
		t.Fatal(err)
	}
	codec := wire.NewCodec(shared.JSON{}, DefaultMaxFrameSize, DefaultMaxRawSize, nil)
	out, _, err := codec.Encode(nil, &wire.Header{Version: 1, Kind: shared.KindRequest, Type: Spam.Name(), ID: "s"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := calls.Write(out); err != nil {
		t.Fatal(err)
	}
	calls.SetReadDeadline(time.Now().Add(testBound))
	if line, err := bufio.NewReader(calls).ReadString('\n'); err != nil || !strings.Contains(line, `"s"`) {
		t.Fatalf("reply header = %q, %v; want the reply to call s", line, err)
	}
	b, _ := json.Marshal(handshakewire.Control{Op: handshakewire.OpShutdown})
	if _, err := control.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-w.done:
		w.done <- err
		if err != nil {
			t.Errorf("ServeContext after a shutdown request = %v, want nil", err)
		}
	case <-time.After(testBound):
		t.Fatalf("the worker did not stop within %v of a shutdown request while its host did not read its logs", testBound)
	}
	control.SetReadDeadline(time.Now().Add(testBound))
	var m handshakewire.Control
	if err := handshakewire.ReadHello(bufio.NewReader(control), &m); err != nil || m.Op != handshakewire.OpGoodbye {
		t.Errorf("control message after shutdown = %+v, %v, want a goodbye", m, err)
	}
}
