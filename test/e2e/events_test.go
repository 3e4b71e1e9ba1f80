package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// counter counts up and closes a channel when the count reaches a target
// that may be set after counting started.
type counter struct {
	mu      sync.Mutex
	n       int64
	target  int64 // -1: not set yet
	reached chan struct{}
}

func newCounter() *counter { return &counter{target: -1, reached: make(chan struct{})} }

func (c *counter) add(d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	c.check()
}

func (c *counter) load() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// waitFor returns a channel closed once the count is at least target.
func (c *counter) waitFor(target int64) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.target = target
	c.check()
	return c.reached
}

func (c *counter) check() {
	if c.target >= 0 && c.n >= c.target {
		select {
		case <-c.reached:
		default:
			close(c.reached)
		}
	}
}

// markSink is a log sink that closes seen when a record containing mark
// was written, and counts (without keeping) the records containing count.
type markSink struct {
	logSink
	mark, count []byte
	seen        chan struct{}
	once        sync.Once
	n           *counter
}

func newMarkSink(mark, count string) *markSink {
	return &markSink{mark: []byte(mark), count: []byte(count), seen: make(chan struct{}), n: newCounter()}
}

func (s *markSink) Write(p []byte) (int, error) {
	if len(s.mark) > 0 && bytes.Contains(p, s.mark) {
		s.once.Do(func() { close(s.seen) })
	}
	if len(s.count) > 0 && bytes.Contains(p, s.count) {
		s.n.add(1)
		return len(p), nil // not kept: a flood would fill the memory
	}
	return s.logSink.Write(p)
}

// wait waits for ch or fails the test when ctx ends.
func wait(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s: %v", what, ctx.Err())
	}
}

// Every event a handler emitted reaches OnEvent before Call returns, none
// is dropped while the host keeps up, and each carries the call's id.
func TestCallReturnsAfterItsEvents(t *testing.T) {
	const n = 20000
	cfg, _ := config(t)
	cfg.TxIDGenerator = func(*shared.AnyMessage) string { return "the-emit-call" }
	var got atomic.Int64
	var wrongID atomic.Value
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if ev.Type == testproto.Tick.Name() {
			if ev.TxID != "the-emit-call" {
				wrongID.Store(ev.TxID)
			}
			got.Add(1)
		}
	}
	w := start(t, cfg)
	// A throughput test: on a loaded machine under the race detector
	// 20,000 events can take longer than ctxT allows.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := host.Call(ctx, w, testproto.Emit, n); err != nil {
		t.Fatalf("Call(Emit, %d) = %v", n, err)
	}
	if g := got.Load(); g != n {
		t.Errorf("Call(Emit, %d) returned after %d events reached OnEvent, want all %d", n, g, n)
	}
	if id := wrongID.Load(); id != nil {
		t.Errorf("an event carried txid %q, want the call's %q", id, "the-emit-call")
	}
	if d := w.Dropped(); d != (shared.Dropped{}) {
		t.Errorf("Dropped() = %+v, want none", d)
	}
}

// A call whose events cannot all be delivered (the worker dies between
// its reply and its events is hard to arrange; a context that ends while
// OnEvent is slow is not) says so, and the events still arrive.
func TestCallSaysWhenItsEventsArePending(t *testing.T) {
	cfg, _ := config(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 3)
	var got atomic.Int64
	delivered := make(chan struct{})
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if ev.Type == testproto.Tick.Name() {
			entered <- struct{}{}
			<-release
			if got.Add(1) == 3 {
				close(delivered)
			}
		}
	}
	w := start(t, cfg)
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() {
		_, err := host.Call(ctx, w, testproto.Emit, 3)
		done <- err
	}()
	// The Call cannot return before OnEvent took the events: end its
	// context instead.
	wait(t, ctx, entered, "the first event")
	cancel()
	err := <-done
	close(release)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Call with OnEvent stuck and its context cancelled = %v, want context.Canceled", err)
	}
	wait(t, ctxT(t), delivered, "the events after the call gave up")
}

// logFlood is how many records TestLogFlood* log: 300,000 (50,000 under
// the race detector, whose host takes several times longer for each), or
// IW_TEST_LOG_FLOOD.
func logFlood() int {
	if s := os.Getenv("IW_TEST_LOG_FLOOD"); s != "" {
		n, _ := strconv.Atoi(s)
		return n
	}
	if raceEnabled {
		return 50000
	}
	return 300000
}

// floodLogs has the worker log n warn records as fast as it can, then
// waits until every record arrived or was reported dropped. It returns the
// records received and the worker's own drop count.
func floodLogs(t *testing.T, n int, args ...string) (*host.Worker, int64, shared.Dropped) {
	t.Helper()
	cfg, _ := config(t, args...)
	sink := newMarkSink("", `"flood"`)
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, JSONFormat: true, Output: sink})
	cfg.LogLevel = hclog.Warn
	reported := newCounter()
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if d, ok, _ := host.DecodeEvent(ev, shared.DroppedEvent); ok {
			reported.add(int64(d.Logs))
		}
	}
	w := start(t, cfg)
	ctx := ctxT(t)
	d, err := host.Call(ctx, w, testproto.LogMany, n)
	if err != nil {
		t.Fatalf("Call(LogMany, %d) = %v", n, err)
	}
	// Every record was logged before the reply: those not dropped are on
	// their way, and so is the notice of those dropped.
	wait(t, ctx, sink.n.waitFor(int64(n)-int64(d.Logs)), "the records not dropped")
	wait(t, ctx, reported.waitFor(int64(d.Logs)), "the drop notices")
	return w, sink.n.load(), d
}

// A host that keeps taking records gets all of them: a logging worker is
// slowed down, never dropped, while its host makes progress (LogWait is
// long here so that a machine under load does not look like a stuck host).
func TestLogFloodIsDeliveredWhileTheHostKeepsUp(t *testing.T) {
	n := logFlood()
	w, got, d := floodLogs(t, n, "-log-wait", "10m")
	if got != int64(n) || d.Logs != 0 {
		t.Errorf("%d of %d records received, %d dropped; want all received, none dropped", got, n, d.Logs)
	}
	if hd := w.Dropped(); hd.Logs != 0 {
		t.Errorf("host's Dropped().Logs = %d, want 0", hd.Logs)
	}
}

// With a LogWait shorter than the host takes, records are dropped, and
// every one is counted: received + reported dropped == sent, and the host's
// Dropped agrees with the worker's.
func TestLogFloodDropsAreCounted(t *testing.T) {
	n := logFlood() / 5
	w, got, d := floodLogs(t, n, "-log-wait", "1us", "-log-buffer", "16")
	if got+int64(d.Logs) != int64(n) {
		t.Errorf("%d records received + %d dropped = %d, want the %d sent", got, d.Logs, got+int64(d.Logs), n)
	}
	if hd := w.Dropped(); hd.Logs != d.Logs {
		t.Errorf("host's Dropped().Logs = %d, want the worker's count %d", hd.Logs, d.Logs)
	}
	t.Logf("%d records: %d received, %d dropped", n, got, d.Logs)
}

// Events emitted while no host is connected wait in a buffer of LogBuffer;
// beyond it the oldest are dropped, and the next host is told exactly how
// many: a warning, a DroppedEvent, and Dropped().
func TestDropsWhileDisconnectedAreReported(t *testing.T) {
	const buffer, extra = 50, 37
	cfg, _ := config(t, "-keepalive", "-log-buffer", strconv.Itoa(buffer))
	sink := newMarkSink(testproto.EmitOnCancelDone, "")
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, JSONFormat: true, Output: sink})
	notices := make(chan shared.Dropped, 10)
	ticks := make(chan int, buffer+extra)
	started := make(chan struct{})
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if d, ok, _ := host.DecodeEvent(ev, shared.DroppedEvent); ok {
			notices <- d
		}
		if v, ok, _ := host.DecodeEvent(ev, testproto.Tick); ok {
			if v == -1 {
				close(started)
				return
			}
			ticks <- v
		}
	}
	w := start(t, cfg)
	ctx := ctxT(t)

	// The handler waits for its context, which ends when the host
	// disconnects.
	called := make(chan error, 1)
	go func() {
		_, err := host.Call(context.Background(), w, testproto.EmitOnCancel, buffer+extra)
		called <- err
	}()
	wait(t, ctx, started, "the handler to start")
	if err := w.Disconnect(); err != nil {
		t.Fatalf("Disconnect() = %v", err)
	}
	if err := <-called; !errors.Is(err, host.ErrDisconnected) {
		t.Errorf("the call running at Disconnect = %v, want ErrDisconnected", err)
	}
	wait(t, ctx, sink.seen, "the handler to emit while disconnected")
	if err := w.Reconnect(ctx); err != nil {
		t.Fatalf("Reconnect() = %v", err)
	}

	var notice shared.Dropped
	select {
	case notice = <-notices:
	case <-ctx.Done():
		t.Fatal("no drop notice after reconnecting")
	}
	// At least the events beyond the buffer are dropped; one more may be, if
	// the handler emitted before the worker saw the host go and the queue
	// filled then (Emit's context had ended: it gave up, counted). Either
	// way every event is counted: dropped + delivered == emitted.
	if notice.Events < extra || notice.Events > extra+1 {
		t.Errorf("notice says %d events dropped, want %d (or %d)", notice.Events, extra, extra+1)
	}
	if got := w.Dropped().Events; got != notice.Events {
		t.Errorf("Dropped().Events = %d, want the notice's %d", got, notice.Events)
	}
	if rec := sink.find("worker dropped " + strconv.FormatUint(notice.Events, 10) + " events"); rec == nil || rec["@level"] != "warn" {
		t.Errorf("host log has no warning naming the %d dropped events; got %v", notice.Events, rec)
	}
	// The rest follow, in order: dropped + delivered == emitted.
	last := -1
	for n := int(notice.Events); n < buffer+extra; n++ {
		select {
		case v := <-ticks:
			if v <= last {
				t.Fatalf("event after the notice = %d after %d, want them in order", v, last)
			}
			last = v
		case <-ctx.Done():
			t.Fatalf("%d events dropped and only %d of the other %d delivered", notice.Events, n-int(notice.Events), buffer+extra-int(notice.Events))
		}
	}
	// Which ones were dropped depends on where the worker stood when the
	// host went (while disconnected the oldest go; an Emit that gives up
	// drops its own); what may not happen is a loss that is not counted,
	// which the count above proves.
}

// BenchmarkCallWith100Events is a call whose handler emits 100 events,
// all delivered before Call returns; it reports events per second.
func BenchmarkCallWith100Events(b *testing.B) {
	var got atomic.Int64
	w, err := host.Start(context.Background(), host.Config{
		Cmd:       exec.Command(bins["testworker"]),
		Handshake: testproto.Handshake,
		Name:      "testworker",
		OnEvent:   func(host.ReceivedEvent) { got.Add(1) },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := host.Call(ctx, w, testproto.Emit, 100); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(got.Load())/time.Since(start).Seconds(), "events/s")
	if got.Load() != int64(b.N)*100 {
		b.Fatalf("%d events delivered, want %d", got.Load(), b.N*100)
	}
}
