package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

func TestCallTypedMessages(t *testing.T) {
	w, _ := startArgs(t)
	ctx := ctxT(t)
	got, err := host.Call(ctx, w, testproto.Ping, "hi")
	if err != nil || got != "pong:hi" {
		t.Fatalf(`Call(Ping, "hi") = %q, %v, want "pong:hi", nil`, got, err)
	}
	item := testproto.Item{Name: "line\nbreak \"quoted\" ü", Count: 42, Tags: map[string]string{"a": "b"}, Blob: []byte{0, 1, '\n', 255}}
	gotItem, err := host.Call(ctx, w, testproto.EchoItem, item)
	if err != nil {
		t.Fatalf("Call(EchoItem) error: %v", err)
	}
	if diff := cmp.Diff(item, gotItem); diff != "" {
		t.Errorf("Call(EchoItem) mismatch (-want +got):\n%s", diff)
	}
}

func TestStdoutAtStartupDoesNotBreakHandshake(t *testing.T) {
	w, sink := startArgs(t, "-stdout-lines", "50")
	if _, err := host.Call(ctxT(t), w, testproto.Ping, "x"); err != nil {
		t.Fatalf("Call after stdout noise: %v", err)
	}
	eventually(t, "stdout lines in the log", func() bool { return sink.find("testworker stdout line 49") != nil })
	rec := sink.find("testworker stdout line 0")
	if rec["stream"] != "stdout" || rec["@module"] != "test.testworker" {
		t.Errorf("stdout record = %v, want stream=stdout in module test.testworker", rec)
	}
}

func TestRunByHandExplainsItself(t *testing.T) {
	out, err := exec.Command(bins["testworker"], "-stdout-lines", "0").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("running the worker by hand: err = %v, want exit status 1", err)
	}
	if !strings.Contains(string(out), "is a worker plugin, launched by its host") {
		t.Errorf("output = %q, want the friendly explanation", out)
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		modify func(*host.Config)
		want   []string
		is     error
		as     any // errors.As target, when the error has a type to match
	}{
		{
			name:   "serializer mismatch",
			modify: func(c *host.Config) { c.Serializer = shared.MsgPack{} },
			want:   []string{"serializer mismatch: host uses msgpack, worker uses json"},
			as:     new(*handshake.SerializerMismatchError),
		},
		{
			name: "serializer name collision",
			args: []string{"-serializer", "fake-json"},
			want: []string{`serializer name collision: host and worker both call their serializer "json" but they differ`},
		},
		{
			name:   "no common protocol version",
			args:   []string{"-versions", "3,4"},
			modify: func(c *host.Config) { c.Handshake.ProtocolVersions = []int{1, 2} },
			want:   []string{"no common protocol version: host speaks [1 2], worker speaks [3 4]"},
			as:     new(*handshake.VersionMismatchError),
		},
		{
			name: "worker exits during start-up",
			args: []string{"-exit-at-start", "7"},
			want: []string{"worker exited during start-up", "exited with status 7", `stderr: "testworker: failing at start-up with status 7`},
			is:   host.ErrWorkerTerminated,
		},
		{
			name:   "startup timeout",
			args:   []string{"-hang-at-start"},
			modify: func(c *host.Config) { c.StartupTimeout = 300 * time.Millisecond },
			want:   []string{"worker not ready after 300ms (StartupTimeout)"},
		},
		{
			name:   "missing binary",
			modify: func(c *host.Config) { c.Cmd = exec.Command("/nonexistent/worker") },
			want:   []string{`start worker "testworker": spawn /nonexistent/worker`, "no such file or directory"},
		},
		{
			name:   "bad handshake config",
			modify: func(c *host.Config) { c.Handshake.MagicCookieKey = "" },
			want:   []string{"handshake: MagicCookieKey and MagicCookieValue must be set"},
		},
		{
			name:   "wrong magic cookie",
			modify: func(c *host.Config) { c.Handshake.MagicCookieValue = "another-build" },
			want:   []string{"magic cookie mismatch: the host set IW_TEST_WORKER to another value than this worker's handshake.Config expects; build host and worker with the same handshake"},
		},
		{
			name:   "negative timeout",
			modify: func(c *host.Config) { c.CallTimeout = -time.Second },
			want:   []string{"host: CallTimeout -1s is negative"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := config(t, tt.args...)
			if tt.modify != nil {
				tt.modify(&cfg)
			}
			w, err := host.Start(ctxT(t), cfg)
			if err == nil {
				w.Close()
				t.Fatal("Start succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Start error = %q, want it to contain %q", err, want)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Start error = %v, want errors.Is %v", err, tt.is)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("Start error = %v, want errors.As to find a %T", err, tt.as)
			}
		})
	}
}

func TestStartMissingCmd(t *testing.T) {
	_, err := host.Start(ctxT(t), host.Config{Handshake: testproto.Handshake})
	if err == nil || !strings.Contains(err.Error(), "Config.Cmd is nil") {
		t.Fatalf("Start without Cmd = %v, want a Config.Cmd error", err)
	}
}

func TestStartupErrorExposesExitDetails(t *testing.T) {
	cfg, _ := config(t, "-exit-at-start", "4")
	_, err := host.Start(ctxT(t), cfg)
	var ee *host.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Start error = %v, want an *host.ExitError", err)
	}
	if ee.ExitCode != 4 || !strings.Contains(ee.Stderr, "failing at start-up") {
		t.Errorf("ExitError = %+v, want code 4 and the stderr tail", ee)
	}
}

func TestVersionNegotiationPicksHighestCommon(t *testing.T) {
	cfg, _ := config(t, "-versions", "1,2,5")
	cfg.Handshake.ProtocolVersions = []int{1, 2, 3}
	w := start(t, cfg)
	if got := w.ProtocolVersion(); got != 2 {
		t.Errorf("ProtocolVersion() = %d, want 2", got)
	}
	got, err := host.Call(ctxT(t), w, testproto.Version, "")
	if err != nil || got != 2 {
		t.Errorf("handler saw version %d, %v, want 2", got, err)
	}
}

func TestWrongTokenIsRefusedAndLogged(t *testing.T) {
	w, sink := startArgs(t, "-keepalive")
	rc := w.ReattachConfig()
	rc.AuthToken = "not-the-token"
	cfg, _ := config(t)
	_, err := host.Attach(ctxT(t), rc, cfg)
	var refused *host.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "authentication failed: wrong auth token") {
		t.Fatalf("Attach with a wrong token = %v, want a RefusedError about the token", err)
	}
	// The real host is unaffected and learns about the attempt.
	if _, err := host.Call(ctxT(t), w, testproto.Ping, "still mine"); err != nil {
		t.Fatalf("Call after a refused intruder: %v", err)
	}
	eventually(t, "the refusal in the worker's log", func() bool { return sink.find("refused a connection") != nil })
}

func TestUnknownMessage(t *testing.T) {
	w, _ := startArgs(t)
	_, err := host.Call(ctxT(t), w, testproto.Unknown, "x")
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Code != shared.CodeUnknownMessage {
		t.Fatalf("Call(unknown) = %v, want a RemoteError with code %q", err, shared.CodeUnknownMessage)
	}
	if !strings.Contains(re.Message, `no handler for message "no-such-message"`) || !strings.Contains(re.Message, "ping") {
		t.Errorf("message = %q, want it to name the message and list what the worker serves", re.Message)
	}
}

func TestMismatchedPayloadType(t *testing.T) {
	w, _ := startArgs(t)
	_, err := host.Call(ctxT(t), w, testproto.WrongType, 3)
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Code != shared.CodeBadRequest {
		t.Fatalf("Call with a mismatched request type = %v, want code %q", err, shared.CodeBadRequest)
	}
}

func TestHandlerPanicBecomesErrorAndWorkerKeepsServing(t *testing.T) {
	w, sink := startArgs(t)
	_, err := host.Call(ctxT(t), w, testproto.Panic, "kaboom")
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Code != shared.CodePanic || !strings.Contains(re.Message, `handler "panic" panicked: kaboom`) {
		t.Fatalf("Call(Panic) = %v, want a panic RemoteError", err)
	}
	if got, err := host.Call(ctxT(t), w, testproto.Ping, "after"); err != nil || got != "pong:after" {
		t.Fatalf("Call after panic = %q, %v", got, err)
	}
	eventually(t, "the panic stack in the log", func() bool {
		r := sink.find("handler panicked")
		return r != nil && strings.Contains(r["stack"].(string), "goroutine")
	})
}

func TestRemoteErrorCarriesClassCodeAndHint(t *testing.T) {
	w, _ := startArgs(t)
	tests := []struct {
		req  testproto.FailReq
		want shared.RemoteError
	}{
		{testproto.FailReq{Message: "plain"}, shared.RemoteError{Message: "plain", Code: shared.CodeHandler, Type: "*errors.errorString"}},
		{testproto.FailReq{Message: "busy", Class: "transient", RetryAfter: 1500},
			shared.RemoteError{Message: "busy", Code: shared.CodeHandler, Type: "*faults.Error", Class: "transient", RetryAfterMillis: 1500}},
		{testproto.FailReq{Message: "no such user", Class: "business", Code: "user_missing"},
			shared.RemoteError{Message: "no such user", Code: "user_missing", Type: "*faults.Error", Class: "business"}},
	}
	for _, tt := range tests {
		_, err := host.Call(ctxT(t), w, testproto.Fail, tt.req)
		var re *shared.RemoteError
		if !errors.As(err, &re) {
			t.Fatalf("Call(Fail, %+v) = %v, want a RemoteError", tt.req, err)
		}
		if diff := cmp.Diff(tt.want, *re); diff != "" {
			t.Errorf("Call(Fail, %+v) RemoteError mismatch (-want +got):\n%s", tt.req, diff)
		}
		if got := faults.ClassOf(err); string(got) != tt.want.Class {
			t.Errorf("faults.ClassOf(%v) = %q, want %q", err, got, tt.want.Class)
		}
	}
}

func TestCallDeadlines(t *testing.T) {
	cfg, _ := config(t)
	cfg.CallTimeout = 2 * time.Second
	w := start(t, cfg)
	tests := []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		msg      shared.Message[string, int64]
		min, max int64 // ms the handler sees
	}{
		{"config default", noDeadline, testproto.Deadline, 1000, 2000},
		{"message overrides config", noDeadline, testproto.Deadline.WithTimeout(500 * time.Millisecond), 100, 500},
		{"earlier context wins", withTimeout(300 * time.Millisecond), testproto.Deadline.WithTimeout(5 * time.Second), 50, 300},
		{"message zero means no timeout", noDeadline, testproto.Deadline.WithTimeout(0), -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			got, err := host.Call(ctx, w, tt.msg, "")
			if err != nil || got < tt.min || got > tt.max {
				t.Errorf("handler deadline = %d ms, %v; want within [%d, %d]", got, err, tt.min, tt.max)
			}
		})
	}
	// A call that outlives its deadline fails with the context's error.
	_, err := host.Call(context.Background(), w, testproto.Sleep.WithTimeout(100*time.Millisecond), 5000)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call past its message timeout = %v, want context.DeadlineExceeded", err)
	}
}

func noDeadline() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func withTimeout(d time.Duration) func() (context.Context, context.CancelFunc) {
	return func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), d) }
}

func TestCancelReachesHandler(t *testing.T) {
	cfg, _ := config(t)
	cancelled := eventsTo(&cfg, testproto.Cancelled, 1)
	started := callsStarted(&cfg, 1)
	w := start(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	startedID := make(chan string, 1)
	go func() {
		// Cancel once the handler runs; if it never starts, cancel anyway
		// so that Call returns, and fail below.
		select {
		case id := <-started:
			startedID <- id
		case <-time.After(20 * time.Second):
			close(startedID)
		}
		cancel()
	}()
	_, err := host.Call(shared.WithHeader(ctx, "x", "y"), w, testproto.Sleep, 30_000)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Call = %v, want context.Canceled", err)
	}
	wantID, ok := <-startedID
	if !ok {
		t.Fatal("the Sleep handler did not start within 20s")
	}
	select {
	case txID := <-cancelled:
		if txID == "" || txID != wantID {
			t.Errorf("the cancelled handler saw transaction id %q, want %q (the one it started with)", txID, wantID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled")
	}
}

// When a call's deadline passes, the handler's context ends with
// context.DeadlineExceeded, every time: the host's cancel does not race the
// worker's own deadline timer into context.Canceled.
func TestHandlerSeesDeadlineExceeded(t *testing.T) {
	cfg, _ := config(t)
	ended := eventsTo(&cfg, testproto.SleepEnded, 20)
	w := start(t, cfg)
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		_, err := host.Call(ctx, w, testproto.Sleep, 30_000)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d = %v, want context.DeadlineExceeded", i, err)
		}
		select {
		case got := <-ended:
			if got != context.DeadlineExceeded.Error() {
				t.Errorf("call %d: the handler's ctx.Err() = %q, want %q", i, got, context.DeadlineExceeded)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d: the handler's context did not end", i)
		}
	}
}

func TestHeadersTravelToHandler(t *testing.T) {
	w, _ := startArgs(t)
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := shared.WithHeaders(ctxT(t), map[string]string{shared.TraceParentHeader: tp, "tenant": "acme"})
	got, err := host.Call(ctx, w, testproto.Headers, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"traceparent": tp, "tenant": "acme"}, got); diff != "" {
		t.Errorf("headers in handler (-want +got):\n%s", diff)
	}
}

func TestCrashFailsPendingCallsAtOnce(t *testing.T) {
	cfg, _ := config(t)
	started := callsStarted(&cfg, 10)
	w := start(t, cfg)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = host.Call(ctx, w, testproto.Sleep, 60_000)
		}()
	}
	waitStarted(t, started, len(errs))
	_, err := host.Call(ctx, w, testproto.Crash, 9)
	wg.Wait()
	for _, e := range append(errs, err) {
		var ee *host.ExitError
		if !errors.As(e, &ee) || ee.ExitCode != 9 || !strings.Contains(e.Error(), "exited with status 9") {
			t.Errorf("pending call error = %v, want an ExitError with status 9", e)
		}
		if !strings.Contains(e.Error(), "crashing on purpose") {
			t.Errorf("pending call error = %v, want the stderr tail", e)
		}
	}
	if w.IsActive() || w.IsConnected() {
		t.Errorf("after crash IsActive=%v IsConnected=%v, want false false", w.IsActive(), w.IsConnected())
	}
	if _, err := host.Call(ctx, w, testproto.Ping, "x"); err == nil {
		t.Error("Call after crash succeeded")
	}
}

func TestKilledBySignal(t *testing.T) {
	w, _ := startArgs(t)
	_, err := host.Call(ctxT(t), w, testproto.Kill, "")
	var ee *host.ExitError
	if !errors.As(err, &ee) || ee.Signal != "killed" || !strings.Contains(err.Error(), "killed by signal: killed") {
		t.Fatalf("Call that kills the worker = %v, want an ExitError naming signal killed", err)
	}
}

func TestCloseFailsPendingAndKillsAfterGrace(t *testing.T) {
	cfg, _ := config(t)
	cfg.GracePeriod = 300 * time.Millisecond
	started := callsStarted(&cfg, 1)
	w := start(t, cfg)
	errc := make(chan error, 1)
	go func() {
		_, err := host.Call(context.Background(), w, testproto.SleepStuck, 60_000)
		errc <- err
	}()
	waitStarted(t, started, 1)
	pid := w.PID()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, host.ErrWorkerClosed) {
		t.Errorf("pending call after Close = %v, want ErrWorkerClosed", err)
	}
	if alive(pid) {
		t.Errorf("worker pid %d still exists after Close", pid)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := host.Call(ctxT(t), w, testproto.Ping, "x"); !errors.Is(err, host.ErrWorkerClosed) {
		t.Errorf("Call after Close = %v, want ErrWorkerClosed", err)
	}
}

func TestShutdownWaitsForPendingCalls(t *testing.T) {
	cfg, _ := config(t)
	started := callsStarted(&cfg, 1)
	w := start(t, cfg)
	res := make(chan string, 1)
	go func() {
		got, _ := host.Call(context.Background(), w, testproto.Sleep, 300)
		res <- got
	}()
	waitStarted(t, started, 1)
	done := make(chan error, 1)
	go func() { done <- w.Shutdown(context.Background()) }()
	eventually(t, "new calls refused", func() bool {
		_, err := host.Call(context.Background(), w, testproto.Ping, "x")
		return errors.Is(err, host.ErrShuttingDown) || errors.Is(err, host.ErrWorkerClosed)
	})
	if got := <-res; got != "slept" {
		t.Errorf("pending call during Shutdown = %q, want it to finish", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if w.IsActive() {
		t.Error("worker still active after Shutdown")
	}
}

func TestShutdownContextExpires(t *testing.T) {
	cfg, _ := config(t)
	started := callsStarted(&cfg, 1)
	w := start(t, cfg)
	go host.Call(context.Background(), w, testproto.Sleep, 10_000)
	waitStarted(t, started, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := w.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "pending calls did not finish") {
		t.Errorf("Shutdown with a short context = %v, want a deadline error", err)
	}
}

func TestWorkerLogsReachHostLogger(t *testing.T) {
	w, sink := startArgs(t)
	_, err := host.Call(ctxT(t), w, testproto.Log, testproto.LogReq{Level: "warn", Message: "disk almost full", Key: "free_mb", Value: "12"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the worker's record", func() bool { return sink.find("disk almost full") != nil })
	rec := sink.find("disk almost full")
	if rec["@level"] != "warn" || rec["@module"] != "test.testworker" || rec["free_mb"] != "12" {
		t.Errorf("forwarded record = %v, want level warn, module test.testworker, free_mb=12", rec)
	}
}

func TestLongStderrLineIsCapturedWhole(t *testing.T) {
	w, sink := startArgs(t)
	const n = 300 << 10
	if _, err := host.Call(ctxT(t), w, testproto.Stderr, n); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the long stderr line", func() bool {
		r := sink.find("xxxxxxxxE")
		return r != nil && len(r["@message"].(string)) == n
	})
}

func TestLargeRawPayloads(t *testing.T) {
	w, _ := startArgs(t)
	for _, size := range []int{0, 1, 100, 64<<10 - 1, 64 << 10, 1 << 20, 8 << 20} {
		blob := bytes.Repeat([]byte{0, '\n', 'a', 0xff, 0, 0}, size/6+1)[:size]
		got, err := host.Call(ctxT(t), w, testproto.Echo, blob)
		if err != nil {
			t.Fatalf("Echo(%d bytes): %v", size, err)
		}
		if !bytes.Equal(got, blob) {
			t.Fatalf("Echo(%d bytes) returned %d different bytes", size, len(got))
		}
	}
}

func TestConcurrentCalls(t *testing.T) {
	w, _ := startArgs(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for g := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				want := strings.Repeat("p", g) + string(rune('a'+i%26))
				got, err := host.Call(ctx, w, testproto.Ping, want)
				if err != nil || got != "pong:"+want {
					t.Errorf("Call(%q) = %q, %v", want, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestEventsArriveInOrder(t *testing.T) {
	var mu sync.Mutex
	var got []int
	cfg, _ := config(t)
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if v, ok, err := host.DecodeEvent(ev, testproto.Tick); ok && err == nil {
			mu.Lock()
			got = append(got, v)
			mu.Unlock()
		}
	}
	w := start(t, cfg)
	if _, err := host.Call(ctxT(t), w, testproto.Emit, 500); err != nil {
		t.Fatal(err)
	}
	eventually(t, "500 events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 500 })
	for i, v := range got {
		if v != i {
			t.Fatalf("event %d = %d, want events in order", i, v)
		}
	}
}

func TestDuplicateTxIDIsRefused(t *testing.T) {
	cfg, _ := config(t)
	cfg.TxIDGenerator = func(*shared.AnyMessage) string { return "same-id" }
	started := callsStarted(&cfg, 1)
	w := start(t, cfg)
	go host.Call(context.Background(), w, testproto.Sleep, 30_000) // ends with Close
	waitStarted(t, started, 1)
	_, err := host.Call(ctxT(t), w, testproto.Ping, "x")
	if !errors.Is(err, shared.ErrDuplicateTxID) || !strings.Contains(err.Error(), `"same-id"`) {
		t.Errorf("second call with the same id = %v, want ErrDuplicateTxID naming the id", err)
	}
}

// callsStarted makes cfg's OnEvent send the transaction id of every Sleep
// or SleepStuck call the worker started to the returned channel, which
// holds up to n; other events go on to the OnEvent cfg had before.
func callsStarted(cfg *host.Config, n int) <-chan string {
	ch := make(chan string, n)
	next := cfg.OnEvent
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if id, ok, _ := host.DecodeEvent(ev, testproto.Started); ok {
			select {
			case ch <- id:
			default:
			}
			return
		}
		if next != nil {
			next(ev)
		}
	}
	return ch
}

// waitStarted waits until n calls have started in the worker, as told by
// their Started events, and fails the test if they have not within 20 s.
func waitStarted(t *testing.T, started <-chan string, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for i := range n {
		select {
		case <-started:
		case <-timeout:
			t.Fatalf("%d of %d calls started in the worker within 20s", i, n)
		}
	}
}

var _ = handshake.Config{}
