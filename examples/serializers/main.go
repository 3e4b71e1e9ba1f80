// Command serializers shows how host and worker agree on a serializer:
// MessagePack with payloads full of zero bytes, a custom serializer written
// in a few lines with shared.NewSerializer, and the errors for a
// serializer that breaks its own framing, for two serializers that share a
// name, and for host and worker that disagree. It checks every result it
// shows and exits with status 1 if one is not what it expects; the errors
// it provokes on purpose are marked "(expected)".
//
//	go build -o bin/serializers-worker ./examples/serializers/worker
//	go run ./examples/serializers -worker bin/serializers-worker
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/serializers/protocol"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	workerPath := flag.String("worker", "bin/serializers-worker", "path to the worker binary")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "serializers:", err)
		os.Exit(1)
	}
	c.Exit()
}

func run(c *check.Checker, workerPath string) error {
	ctx := context.Background()
	// start launches a worker whose serializer is ser on the host side and
	// workerArgs on the worker side: each side configures its own, and the
	// handshake checks that they agree.
	start := func(ser shared.Serializer, workerArgs ...string) (*host.Worker, error) {
		return host.Start(ctx, host.Config{
			Cmd:        exec.Command(workerPath, workerArgs...),
			Handshake:  protocol.Handshake,
			Serializer: ser,
		})
	}

	// 1-3. MessagePack on both sides. Its terminator is 0x00 0x00, so it
	// escapes zero bytes: a payload full of them still frames correctly.
	w, err := start(shared.MsgPack{}, "-serializer", "msgpack")
	if err != nil {
		return err
	}
	blob := protocol.Blob{Name: "zeros\x00\x00inside", Data: []byte{0x00, 0x00, 0x01, 0x00, 0x00, 0xff, 0x00}}
	got, err := host.Call(ctx, w, protocol.EchoBlob, blob)
	if err != nil {
		w.Close()
		return err
	}
	fmt.Printf("1. msgpack: echoed %q + % x (equal: %v)\n", got.Name, got.Data, got.Name == blob.Name && bytes.Equal(got.Data, blob.Data))
	c.That(got.Name == blob.Name && bytes.Equal(got.Data, blob.Data), "1. msgpack echo = %q + % x, want %q + % x", got.Name, got.Data, blob.Name, blob.Data)
	frame, err := shared.MsgPack{}.Marshal(blob)
	fmt.Printf("2. msgpack frame body (%d bytes) contains the terminator 00 00: %v\n   % x\n",
		len(frame), bytes.Contains(frame, []byte{0, 0}), frame)
	c.That(err == nil && !bytes.Contains(frame, []byte{0, 0}), "2. msgpack frame % x, %v: want no 00 00 inside and no error", frame, err)
	raw := bytes.Repeat([]byte{0, 0, 1}, 1<<18)
	echoed, err := host.Call(ctx, w, protocol.EchoRaw, raw)
	fmt.Printf("3. a bare []byte (%d KiB of 00 00 01) skips the serializer on its own stream: equal %v, err %v\n",
		len(raw)>>10, bytes.Equal(echoed, raw), err)
	c.That(err == nil && bytes.Equal(echoed, raw), "3. raw echo returned %d different bytes, %v, want the %d sent", len(echoed), err, len(raw))
	w.Close()

	// 4. A custom serializer: a name, a terminator, and two functions.
	w, err = start(protocol.PrettyJSON, "-serializer", "json-pretty")
	if err != nil {
		return err
	}
	want := protocol.Blob{Name: "line one\nline two\n\n", Data: []byte("hi")}
	got, err = host.Call(ctx, w, protocol.EchoBlob, want)
	w.Close()
	if err != nil {
		return err
	}
	c.That(got.Name == want.Name && bytes.Equal(got.Data, want.Data), "4. json-pretty echo = %q + %q, want %q + %q", got.Name, got.Data, want.Name, want.Data)
	pretty, _ := protocol.PrettyJSON.Marshal(got)
	fmt.Printf("4. custom %q (terminator %q) round trip: %q\n   a frame as it travels:\n%s\n",
		protocol.PrettyJSON.Name(), protocol.PrettyJSON.Terminator(), got.Name, indent(pretty))

	// 5. Two different serializers under one name: the names match, so the
	// start-up check passes, but the fingerprints in the hello differ.
	w, err = start(protocol.PrettyJSON, "-serializer", "json-pretty-cr")
	fmt.Printf("5. (expected) same name, different serializer: %v\n", err)
	var collision *handshake.SerializerCollisionError
	// The worker refuses the hello; its reason reaches the host as text.
	c.That(err != nil && (errors.As(err, &collision) || strings.Contains(err.Error(), "serializer name collision")),
		"5. Start with two serializers named json-pretty = %v, want a serializer name collision", err)
	closeIf(w, err)

	// 6. A serializer whose output contains its own terminator: every
	// message is refused at send time, never sent corrupted.
	w, err = start(protocol.BrokenJSON, "-serializer", "broken")
	if err != nil {
		return err
	}
	_, err = host.Call(ctx, w, protocol.EchoBlob, protocol.Blob{Name: "x"})
	w.Close()
	fmt.Printf("6. (expected) terminator inside a frame: %v\n   errors.Is ErrTerminatorInFrame: %v\n", err, errors.Is(err, shared.ErrTerminatorInFrame))
	c.That(errors.Is(err, shared.ErrTerminatorInFrame), "6. a frame with its terminator inside -> %v, want ErrTerminatorInFrame", err)

	// 7. Host and worker disagree: the worker has no serializer option, so
	// it uses JSON, while the host uses MessagePack. The worker refuses on
	// start-up and the host reports its words verbatim.
	w, err = start(shared.MsgPack{})
	fmt.Printf("7. (expected) mismatch: %v\n", err)
	checkMismatch(c, "7.", err, "msgpack", "json")
	closeIf(w, err)
	w, err = start(shared.JSON{}, "-serializer", "json-pretty")
	fmt.Printf("8. (expected) and the other way round: %v\n", err)
	checkMismatch(c, "8.", err, "json", "json-pretty")
	closeIf(w, err)
	return nil
}

// checkMismatch checks that err is a serializer mismatch between host and
// worker.
func checkMismatch(c *check.Checker, step string, err error, host, worker string) {
	var me *handshake.SerializerMismatchError
	c.That(errors.As(err, &me) && me.Host == host && me.Worker == worker,
		"%s Start = %v, want a SerializerMismatchError: host %s, worker %s", step, err, host, worker)
}

// closeIf closes a worker that started although it should not have.
func closeIf(w *host.Worker, err error) {
	if err == nil {
		w.Close()
	}
}

func indent(b []byte) string {
	return "   | " + string(bytes.ReplaceAll(b, []byte("\n"), []byte("\n   | ")))
}
