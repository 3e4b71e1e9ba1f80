package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// hostileWorker is a hand-written worker that answers the hello correctly
// and then does whatever its test says on the streams: the host under test
// must survive anything a worker process may send. It runs in the test
// process, so Attach (with this process's pid) connects to it.
type hostileWorker struct {
	t     testing.TB
	dir   string
	ln    net.Listener
	codec *wire.Codec

	ymx     *yamux.Session
	streams map[string]*yamux.Stream
	reqs    chan wire.Header // requests the host sent on the calls stream
	wg      sync.WaitGroup
}

var hostileHandshake = handshake.Config{MagicCookieKey: "IW_HOSTILE", MagicCookieValue: "1"}

var hostilePing = shared.NewMessage[string, string]("ping")

// attachHostile starts a hostile worker and attaches a host to it with a
// logger writing into sink (nil: discard).
func attachHostile(t testing.TB, sink *bytes.Buffer, sinkMu *sync.Mutex) (*Worker, *hostileWorker) {
	t.Helper()
	dir, err := os.MkdirTemp("", "iwh-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	hw := &hostileWorker{t: t, dir: dir, ln: ln, codec: wire.NewCodec(shared.JSON{}, DefaultMaxFrameSize, DefaultMaxRawSize, nil),
		streams: map[string]*yamux.Stream{}, reqs: make(chan wire.Header, 1024)}
	ready := make(chan error, 1)
	hw.wg.Add(1)
	go func() {
		defer hw.wg.Done()
		ready <- hw.serve()
	}()
	logger := hclog.NewNullLogger()
	if sink != nil {
		logger = hclog.New(&hclog.LoggerOptions{Output: lockedWriter{sink, sinkMu}, Level: hclog.Warn})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := Attach(ctx, ReattachConfig{Name: "hostile", SocketPath: path, PID: os.Getpid(), ProtocolVersion: 1, Serializer: "json", AuthToken: "t"},
		Config{Handshake: hostileHandshake, Logger: logger, LogLevel: hclog.Warn, GracePeriod: 5 * time.Second})
	if err != nil {
		hw.close()
		t.Fatalf("Attach to the hostile worker: %v", err)
	}
	if err := <-ready; err != nil {
		w.Close()
		hw.close()
		t.Fatalf("hostile worker: %v", err)
	}
	return w, hw
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// serve accepts the host, answers its hello and accepts its streams.
func (hw *hostileWorker) serve() error {
	nc, err := hw.ln.Accept()
	if err != nil {
		return err
	}
	ymx, err := yamux.Server(wire.FrameConn(nc), wire.YamuxConfig())
	if err != nil {
		nc.Close()
		return err
	}
	hw.ymx = ymx
	for range 5 {
		st, err := ymx.AcceptStream()
		if err != nil {
			return err
		}
		br := bufio.NewReader(st)
		name, err := wire.ReadStreamName(st, br, 5*time.Second)
		if err != nil {
			return err
		}
		hw.streams[name] = st
		switch name {
		case wire.StreamControl:
			var hh handshakewire.HostHello
			if err := handshakewire.ReadHello(br, &hh); err != nil {
				return err
			}
			err := handshakewire.WriteHello(st, handshakewire.WorkerHello{ProtocolVersion: 1, Serializer: "json",
				Fingerprint: shared.Fingerprint(shared.JSON{}), PID: os.Getpid(), DisconnectBehavior: handshakewire.BehaviorKeepAlive})
			if err != nil {
				return err
			}
		case wire.StreamCalls:
			hw.wg.Add(1)
			go func() {
				defer hw.wg.Done()
				defer close(hw.reqs)
				r := frame.NewReader(br, hw.codec.Terminator(), hw.codec.MaxFrame())
				for {
					h, _, err := hw.codec.Read(r)
					if err != nil {
						return
					}
					if h.Kind == shared.KindRequest {
						select {
						case hw.reqs <- h:
						default:
						}
					}
				}
			}()
		}
	}
	return nil
}

// frame encodes one message as the worker would send it.
func (hw *hostileWorker) frame(h wire.Header, payload any) []byte {
	out, raw, err := hw.codec.Encode(nil, &h, payload)
	if err != nil {
		hw.t.Fatalf("encode %+v: %v", h, err)
	}
	return append(out, raw...)
}

// close ends the worker's side and waits for its goroutines.
func (hw *hostileWorker) close() {
	if hw.ymx != nil {
		hw.ymx.Close()
	}
	hw.ln.Close()
	hw.wg.Wait()
	os.RemoveAll(hw.dir)
}

// TestFloodOfUnknownRepliesIsOneWarning: a worker sends 100,000 replies
// for transaction ids the host never sent. The host serves on, and says so
// at Warn, rate limited, counting the replies its warnings left out.
func TestFloodOfUnknownRepliesIsOneWarning(t *testing.T) {
	var sink bytes.Buffer
	var mu sync.Mutex
	w, hw := attachHostile(t, &sink, &mu)
	defer hw.close()
	defer w.Close()

	const flood = 100_000
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Call(ctx, w, hostilePing, "x")
		done <- err
	}()
	req := <-hw.reqs
	var b bytes.Buffer
	for i := range flood {
		b.Write(hw.frame(wire.Header{Version: 1, Kind: shared.KindResult, Type: "ping", ID: fmt.Sprintf("no-such-call-%d", i)}, "stray"))
		if b.Len() > 256<<10 || i == flood-1 {
			if _, err := hw.streams[wire.StreamCalls].Write(b.Bytes()); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	// The real reply comes after the flood: once the call has it, the host
	// has read every stray one.
	if _, err := hw.streams[wire.StreamCalls].Write(hw.frame(wire.Header{Version: 1, Kind: shared.KindResult, Type: "ping", ID: req.ID}, "pong")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Call during the flood = %v, want its reply", err)
	}

	w.unknownReplies.Flush() // Close does this; the test reads the log first
	mu.Lock()
	logged := sink.String()
	mu.Unlock()
	warnings, counted := 0, 0
	for _, line := range strings.Split(logged, "\n") {
		if !strings.Contains(line, "[WARN]") || !strings.Contains(line, "transaction ids the host never sent") {
			continue
		}
		warnings++
		var n int
		if i := strings.Index(line, "count="); i >= 0 {
			fmt.Sscanf(line[i+len("count="):], "%d", &n)
		}
		counted += n
	}
	if warnings == 0 {
		t.Fatalf("no warning about %d replies for unknown transaction ids; host logged:\n%.2000s", flood, logged)
	}
	if warnings > flood/1000 {
		t.Errorf("%d warnings for %d stray replies, want them rate limited (one a second)", warnings, flood)
	}
	if counted != flood {
		t.Errorf("%d warnings count %d stray replies, want every one of the %d counted", warnings, counted, flood)
	}
}

// FuzzHostileWorkerSequence plays a hostile worker: after a correct hello it
// sends a fuzz-decoded sequence of frames and faults on its streams while
// the host has calls in flight (replies with unknown ids, wrong kinds,
// duplicate replies, garbage, early EOF, a dropped connection). The host
// must not panic; every call must end exactly once with its result, a
// remote error or a typed error; and Close must return with no goroutine
// of the connection left (goleak in TestMain checks the whole run).
func FuzzHostileWorkerSequence(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 2, 1, 3})
	f.Add([]byte{2, 5, 3, 0, 3, 0, 4, 1})
	f.Add([]byte{5, 0, 5, 1, 5, 2, 5, 3, 5, 4})
	f.Add([]byte{6, 0, 0, 0})
	f.Add([]byte{6, 1, 6, 2, 6, 3, 6, 4, 0, 1})
	f.Add([]byte{7, 0})
	f.Add([]byte{8, 0, 1, 1, 8, 2})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 64 {
			script = script[:64]
		}
		w, hw := attachHostile(t, nil, nil)
		defer hw.close()

		const calls = 4
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		type result struct {
			i   int
			out string
			err error
		}
		results := make(chan result, calls)
		for i := range calls {
			go func() {
				out, err := Call(ctx, w, hostilePing, fmt.Sprint(i))
				results <- result{i, out, err}
			}()
		}
		var ids []string
		for range calls {
			ids = append(ids, (<-hw.reqs).ID)
		}
		names := []string{wire.StreamCalls, wire.StreamBulk, wire.StreamEvents, wire.StreamLogs, wire.StreamControl}
		write := func(stream string, b []byte) {
			hw.streams[stream].Write(b) // errors are part of the game
		}
		for len(script) >= 2 {
			op, arg := script[0]%9, int(script[1])
			script = script[2:]
			id := ids[arg%len(ids)]
			switch op {
			case 0: // a result, for a call in flight or answered already
				write(wire.StreamCalls, hw.frame(wire.Header{Version: 1, Kind: shared.KindResult, Type: "ping", ID: id}, "pong"))
			case 1: // a remote error
				write(wire.StreamCalls, hw.frame(wire.Header{Version: 1, Kind: shared.KindError, Type: "ping", ID: id}, shared.RemoteError{Message: "no"}))
			case 2: // an id the host never sent
				write(wire.StreamCalls, hw.frame(wire.Header{Version: 1, Kind: shared.KindResult, Type: "ping", ID: fmt.Sprint("stray-", arg)}, "x"))
			case 3: // any kind on the calls stream (a result, too: "x")
				write(wire.StreamCalls, hw.frame(wire.Header{Version: 1, Kind: shared.Kind(arg % 8), Type: "ping", ID: id}, "x"))
			case 4: // a result on the bulk stream
				write(wire.StreamBulk, hw.frame(wire.Header{Version: 1, Kind: shared.KindResult, Type: "ping", ID: id}, "bulk"))
			case 5: // garbage on a stream
				write(names[arg%len(names)], bytes.Repeat([]byte{byte(arg), '{', 0xff, '\n'}, 1+arg%7))
			case 6: // early EOF on a stream
				hw.streams[names[arg%len(names)]].Close()
			case 7: // the connection drops
				hw.ymx.Close()
			case 8: // a result whose payload has the wrong type, and an event
				write(wire.StreamCalls, hw.frame(wire.Header{Version: 1, Kind: shared.KindResult, Type: "ping", ID: id}, arg))
				write(wire.StreamEvents, hw.frame(wire.Header{Version: 1, Kind: shared.KindEvent, Type: "tick"}, arg))
			}
		}
		// End of the script: the worker goes away, so every call still in
		// flight must end now, with a typed error.
		hw.ymx.Close()
		seen := map[int]bool{}
		for range calls {
			r := <-results
			if seen[r.i] {
				t.Fatalf("call %d ended twice", r.i)
			}
			seen[r.i] = true
			var re *shared.RemoteError
			switch {
			case r.err == nil:
				if r.out != "pong" && r.out != "bulk" && r.out != "x" {
					t.Errorf("call %d = %q, want a reply the worker sent", r.i, r.out)
				}
			case errors.As(r.err, &re), errors.Is(r.err, ErrConnectionLost):
			case errors.Is(r.err, context.DeadlineExceeded):
				t.Errorf("call %d hung until its deadline: %v", r.i, r.err)
			case strings.Contains(r.err.Error(), "decode"), strings.Contains(r.err.Error(), "unmarshal"):
				// A reply whose payload does not decode: its own error.
			default:
				t.Errorf("call %d = %v, want a result, a remote error or ErrConnectionLost", r.i, r.err)
			}
		}
		select {
		case r := <-results:
			t.Fatalf("call %d ended more than once", r.i)
		default:
		}
		if err := w.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
}
