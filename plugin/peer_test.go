package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// testBound bounds every wait of these tests on the worker; reaching it
// means the worker hung. It is not a performance figure.
const testBound = 20 * time.Second

// peerWorker is a worker served in this process, for tests that speak to it
// as a host, well-behaved or not.
type peerWorker struct {
	sock, token string
	cancel      context.CancelFunc
	done        chan error
	logs        *recordSink
}

// recordSink collects the worker's hclog JSON records.
type recordSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *recordSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *recordSink) records() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(s.buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// servePeer starts a worker with cfg (Double and Greet handlers unless cfg
// has its own) and stops it when the test ends.
func servePeer(t *testing.T, cfg Config) *peerWorker {
	t.Helper()
	w := &peerWorker{logs: &recordSink{}}
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, JSONFormat: true, Output: w.logs})
	}
	return w.serve(t, cfg)
}

// serve starts the worker with cfg as it is: its logs go to the host
// unless cfg has a Logger.
func (w *peerWorker) serve(t *testing.T, cfg Config) *peerWorker {
	t.Helper()
	r, fd := readyPipe(t)
	env := goodEnv(t, fd)
	cfg.Handshake = testHandshake
	cfg.Getenv = mapEnv(env)
	if len(cfg.Handlers.Names()) == 0 {
		cfg.Handlers = Handlers(Handle(Double, double), Handle(Greet, greetFail))
	}
	w.sock, w.token, w.done = env[handshakewire.EnvSocketPath], env[handshakewire.EnvAuthToken], make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { w.done <- ServeContext(ctx, cfg) }()
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		cancel()
		t.Fatalf("worker did not become ready: %v (ServeContext: %v)", err, <-w.done)
	}
	t.Cleanup(func() { w.stop(t) })
	return w
}

// greetFail fails every call, with the name in the error.
func greetFail(_ context.Context, name string) (string, error) {
	return "", errors.New("no greeting for " + name)
}

// stop cancels the worker and waits for ServeContext to return.
func (w *peerWorker) stop(t *testing.T) error {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err
		return err
	case <-time.After(testBound):
		t.Fatalf("ServeContext did not return within %v of its context's end", testBound)
		return nil
	}
}

// dial opens a raw connection to the worker's socket.
func (w *peerWorker) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", w.sock)
	if err != nil {
		t.Fatalf("dial %s: %v", w.sock, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// session starts a yamux client session over a new connection.
func (w *peerWorker) session(t *testing.T) *yamux.Session {
	t.Helper()
	return w.sessionWith(t, wire.YamuxConfig())
}

// sessionWith starts a yamux client session with cfg over a new connection.
func (w *peerWorker) sessionWith(t *testing.T, cfg *yamux.Config) *yamux.Session {
	t.Helper()
	ymx, err := yamux.Client(w.dial(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ymx.Close() })
	return ymx
}

// openNamed opens a stream and writes its name line.
func openNamed(ymx *yamux.Session, name string) (*yamux.Stream, error) {
	st, err := ymx.OpenStream()
	if err != nil {
		return nil, err
	}
	if err := wire.WriteStreamName(st, name); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// hello says hello with token on a new session and returns the worker's
// answer and the control stream.
func (w *peerWorker) hello(t *testing.T, ymx *yamux.Session, token string) (handshakewire.WorkerHello, *yamux.Stream, error) {
	t.Helper()
	control, err := openNamed(ymx, wire.StreamControl)
	if err != nil {
		return handshakewire.WorkerHello{}, nil, err
	}
	err = handshakewire.WriteHello(control, handshakewire.HostHello{Token: token, ProtocolVersion: 1,
		Serializer: "json", Fingerprint: shared.Fingerprint(shared.JSON{}), PID: 1})
	if err != nil {
		return handshakewire.WorkerHello{}, nil, err
	}
	control.SetReadDeadline(time.Now().Add(testBound))
	var wh handshakewire.WorkerHello
	err = handshakewire.ReadHello(bufio.NewReader(control), &wh)
	control.SetReadDeadline(time.Time{})
	return wh, control, err
}

// authenticate opens a session that passed the hello.
func (w *peerWorker) authenticate(t *testing.T) (*yamux.Session, *yamux.Stream) {
	t.Helper()
	return w.authenticateWith(t, wire.YamuxConfig())
}

// authenticateWith opens a session with cfg that passed the hello.
func (w *peerWorker) authenticateWith(t *testing.T, cfg *yamux.Config) (*yamux.Session, *yamux.Stream) {
	t.Helper()
	ymx := w.sessionWith(t, cfg)
	wh, control, err := w.hello(t, ymx, w.token)
	if err != nil || wh.Error != "" {
		t.Fatalf("hello = %+v, %v; want it accepted", wh, err)
	}
	return ymx, control
}

// attach connects a real host to the worker.
func (w *peerWorker) attach(t *testing.T) *host.Worker {
	t.Helper()
	hw, err := w.tryAttach(t)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	return hw
}

// tryAttach connects a real host to the worker, or says why it could not.
func (w *peerWorker) tryAttach(t *testing.T) (*host.Worker, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	hw, err := host.Attach(ctx, host.ReattachConfig{Name: "peer-test", SocketPath: w.sock, PID: os.Getpid(),
		ProtocolVersion: 1, Serializer: "json", AuthToken: w.token},
		host.Config{Handshake: testHandshake, Logger: hclog.NewNullLogger()})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { hw.Close() })
	return hw, nil
}

// callDouble makes one normal call through hw.
func callDouble(t *testing.T, hw *host.Worker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	if got, err := host.Call(ctx, hw, Double, 21); err != nil || got != 42 {
		t.Fatalf("Call(Double, 21) = %v, %v, want 42, nil", got, err)
	}
}

// TestDuplicateStreamsAreRefused: a host that opens a second calls, bulk,
// logs, events or control stream has it closed, and the worker keeps
// serving the first ones. Before the fix a second calls stream panicked the
// worker (close of closed channel).
func TestDuplicateStreamsAreRefused(t *testing.T) {
	for _, name := range []string{wire.StreamCalls, wire.StreamBulk, wire.StreamLogs, wire.StreamEvents, wire.StreamControl} {
		t.Run(name, func(t *testing.T) {
			w := servePeer(t, Config{})
			ymx, _ := w.authenticate(t)
			calls, err := openNamed(ymx, wire.StreamCalls)
			if err != nil {
				t.Fatal(err)
			}
			first := calls
			if name != wire.StreamCalls {
				if first, err = openNamed(ymx, name); err != nil {
					t.Fatal(err)
				}
			}
			second, err := openNamed(ymx, name)
			if err != nil {
				t.Fatal(err)
			}
			// The worker reads the two names concurrently and closes
			// whichever it reads second: reading that one ends.
			closed := make(chan *yamux.Stream, 2)
			for _, st := range []*yamux.Stream{first, second} {
				go func() {
					st.SetReadDeadline(time.Now().Add(testBound))
					if _, err := io.Copy(io.Discard, st); err == nil {
						closed <- st
					} else {
						closed <- nil
					}
				}()
			}
			gone := <-closed
			if gone == nil {
				t.Fatalf("neither %s stream was closed by the worker", name)
			}
			if name == wire.StreamCalls && gone == calls {
				calls = second
			}
			first.SetReadDeadline(time.Now())
			second.SetReadDeadline(time.Now())
			<-closed
			// The connection still serves calls.
			codec := wire.NewCodec(shared.JSON{}, DefaultMaxFrameSize, DefaultMaxRawSize, nil)
			out, _, err := codec.Encode(nil, &wire.Header{Version: 1, Kind: shared.KindRequest, Type: Double.Name(), ID: "a"}, 21)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := calls.Write(out); err != nil {
				t.Fatal(err)
			}
			calls.SetReadDeadline(time.Now().Add(testBound))
			line, err := bufio.NewReader(calls).ReadString('\n')
			if err != nil || !strings.Contains(line, `"a"`) {
				t.Fatalf("reply header = %q, %v; want the reply to call a", line, err)
			}
			found := false
			for _, rec := range w.logs.records() {
				if rec["@level"] == "error" && strings.Contains(rec["@message"].(string), "second") {
					found = true
				}
			}
			if !found {
				t.Errorf("no error logged for the second %s stream; records: %v", name, w.logs.records())
			}
		})
	}
}
