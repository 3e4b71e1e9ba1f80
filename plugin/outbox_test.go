package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recordWriter collects what is written; records are "\n"-terminated.
// It is safe for concurrent use.
type recordWriter struct {
	mu     sync.Mutex
	writes []string
}

func (w *recordWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// records returns the records written, without their terminators.
func (w *recordWriter) records() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	all := strings.Join(w.writes, "")
	if all == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(all, "\n"), "\n")
}

// partialWrites returns the writes that do not end with a whole record.
func (w *recordWriter) partialWrites() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var bad []string
	for _, s := range w.writes {
		if !strings.HasSuffix(s, "\n") {
			bad = append(bad, s)
		}
	}
	return bad
}

// failAfter accepts n writes, then fails every write.
type failAfter struct {
	recordWriter
	n int
}

var errWriteFailed = errors.New("write failed")

func (w *failAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(w.writes) >= w.n {
		w.mu.Unlock()
		return 0, errWriteFailed
	}
	w.mu.Unlock()
	return w.recordWriter.Write(p)
}

// blockingWriter blocks every Write until release is closed, then returns
// err. entered receives once per Write.
type blockingWriter struct {
	recordWriter
	entered chan struct{}
	release chan struct{}
	err     error
}

func newBlockingWriter(err error) *blockingWriter {
	return &blockingWriter{entered: make(chan struct{}, 100), release: make(chan struct{}), err: err}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.entered <- struct{}{}
	<-w.release
	if w.err != nil {
		return 0, w.err
	}
	return w.recordWriter.Write(p)
}

// testOutbox is an outbox whose notice reports the drops not yet reported
// as the record "dropped <n>", as the worker's notice does.
type testOutbox struct {
	*outbox
	drops atomic.Uint64
	told  uint64
}

// newTestOutbox returns an outbox closed when the test ends.
func newTestOutbox(t *testing.T, limit int) *testOutbox {
	t.Helper()
	to := &testOutbox{}
	to.outbox = newOutbox(limit, &to.drops, func() []byte {
		d := to.drops.Load()
		if d == to.told {
			return nil
		}
		n := d - to.told
		to.told = d
		return fmt.Appendf(nil, "dropped %d\n", n)
	}, nil)
	t.Cleanup(to.close)
	return to
}

// state returns the queued records and the drop count.
func (o *testOutbox) state() ([]string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var q []string
	for _, r := range o.queue {
		q = append(q, strings.TrimSuffix(string(r), "\n"))
	}
	return q, int(o.drops.Load())
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// pushAll pushes each record, "\n"-terminated, as the logger does.
func pushAll(o *testOutbox, recs ...string) {
	for _, r := range recs {
		o.push(nil, []byte(r+"\n"), 0, nil)
	}
}

func TestOutboxBoundedDropsOldest(t *testing.T) {
	tests := []struct {
		name        string
		limit       int
		push        []string
		wantQueue   []string
		wantDropped int
	}{
		{"under the limit", 3, []string{"a", "b"}, []string{"a", "b"}, 0},
		{"at the limit", 3, []string{"a", "b", "c"}, []string{"a", "b", "c"}, 0},
		{"over the limit", 3, []string{"a", "b", "c", "d", "e"}, []string{"c", "d", "e"}, 2},
		{"limit one", 1, []string{"a", "b", "c"}, []string{"c"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOutbox(t, tt.limit)
			pushAll(o, tt.push...)
			q, dropped := o.state()
			if diff := cmp.Diff(tt.wantQueue, q); diff != "" {
				t.Errorf("queue (-want +got):\n%s", diff)
			}
			if dropped != tt.wantDropped {
				t.Errorf("dropped = %d, want %d", dropped, tt.wantDropped)
			}
		})
	}
}

func TestOutboxWriterCopies(t *testing.T) {
	o := newTestOutbox(t, 4)
	b := []byte("original")
	outboxWriter{o.outbox, time.Second}.Write(b)
	copy(b, "CHANGED!")
	if q, _ := o.state(); len(q) != 1 || q[0] != "original" {
		t.Errorf("queue = %q, want [original]: the logger's writer must copy", q)
	}
}

func TestOutboxNoticeOnAttach(t *testing.T) {
	o := newTestOutbox(t, 2)
	pushAll(o, "1", "2", "3", "4", "5")
	var w recordWriter
	o.attach(&w)
	o.flush()
	if diff := cmp.Diff([]string{"dropped 3", "4", "5"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	if _, dropped := o.state(); dropped != 3 {
		t.Errorf("dropped after the notice = %d, want the count to stay 3", dropped)
	}

	// The count starts again for the next host.
	o.detach()
	pushAll(o, "6", "7", "8")
	var w2 recordWriter
	o.attach(&w2)
	o.flush()
	if diff := cmp.Diff([]string{"dropped 1", "7", "8"}, w2.records()); diff != "" {
		t.Errorf("records written to the second writer (-want +got):\n%s", diff)
	}
}

func TestOutboxNoNoticeWithoutDrops(t *testing.T) {
	o := newTestOutbox(t, 10)
	pushAll(o, "a", "b")
	var w recordWriter
	o.attach(&w)
	o.flush()
	if diff := cmp.Diff([]string{"a", "b"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

func TestOutboxNilNotice(t *testing.T) {
	o := newTestOutbox(t, 1)
	o.notice = nil
	pushAll(o, "a", "b", "c")
	var w recordWriter
	o.attach(&w)
	o.flush()
	if diff := cmp.Diff([]string{"c"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

func TestOutboxWritesInOrderWhileAttached(t *testing.T) {
	o := newTestOutbox(t, 10000)
	var w recordWriter
	o.attach(&w)
	var want []string
	for i := range 1000 {
		r := fmt.Sprint(i)
		want = append(want, r)
		pushAll(o, r)
	}
	o.flush()
	waitFor(t, "all records", func() bool { return len(w.records()) == len(want) })
	if diff := cmp.Diff(want, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

func TestOutboxFailedWriteKeepsRecords(t *testing.T) {
	o := newTestOutbox(t, 10)
	// Records too big to share a Write, so the writer fails between them.
	big := func(s string) string { return strings.Repeat(s, outboxChunk/2+1) }
	a, b, c, d := big("a"), big("b"), big("c"), big("d")
	pushAll(o, a, b, c)
	bad := &failAfter{n: 1}
	o.attach(bad)
	waitFor(t, "the failing writer to be detached", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.w == nil
	})
	if diff := cmp.Diff([]string{a}, bad.records()); diff != "" {
		t.Errorf("records the failing writer took (-want +got):\n%s", diff)
	}
	pushAll(o, d)
	var good recordWriter
	o.attach(&good)
	o.flush()
	if diff := cmp.Diff([]string{b, c, d}, good.records()); diff != "" {
		t.Errorf("records kept for the next writer (-want +got):\n%s", diff)
	}
}

// A write that fails after a new writer was attached must not detach the
// new writer.
func TestOutboxFailedWriteDetachesOnlyItsWriter(t *testing.T) {
	o := newTestOutbox(t, 10)
	old := newBlockingWriter(errWriteFailed)
	pushAll(o, "a")
	o.attach(old)
	<-old.entered // the run goroutine is inside old.Write with "a"

	var fresh recordWriter
	o.attach(&fresh) // a new host connected meanwhile
	close(old.release)

	waitFor(t, "the record to reach the new writer", func() bool { return len(fresh.records()) == 1 })
	if diff := cmp.Diff([]string{"a"}, fresh.records()); diff != "" {
		t.Errorf("records written to the new writer (-want +got):\n%s", diff)
	}
	o.mu.Lock()
	attached := o.w == io.Writer(&fresh)
	o.mu.Unlock()
	if !attached {
		t.Errorf("the old writer's failure detached the new writer")
	}
}

func TestOutboxFlushWithoutWriterReturns(t *testing.T) {
	o := newTestOutbox(t, 10)
	pushAll(o, "a")
	done := make(chan struct{})
	go func() {
		o.flush()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("flush with no writer attached did not return")
	}
	if q, _ := o.state(); len(q) != 1 {
		t.Errorf("queue after flush without a writer = %q, want the record kept", q)
	}
}

// flush must wait for records that the writer goroutine has taken from the
// queue but not yet written: goodbye relies on it to send the last log
// records before the connection closes.
func TestOutboxFlushWaitsForWriteInProgress(t *testing.T) {
	o := newTestOutbox(t, 10)
	w := newBlockingWriter(nil)
	pushAll(o, "last record")
	o.attach(w)
	<-w.entered

	flushed := make(chan struct{})
	go func() {
		o.flush()
		close(flushed)
	}()
	select {
	case <-flushed:
		close(w.release)
		t.Fatal("flush returned while a record was still being written")
	case <-time.After(100 * time.Millisecond):
	}
	close(w.release)
	select {
	case <-flushed:
	case <-time.After(5 * time.Second):
		t.Fatal("flush did not return after the write finished")
	}
	if diff := cmp.Diff([]string{"last record"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

func TestOutboxCloseWaitsForWriter(t *testing.T) {
	o := &testOutbox{}
	o.outbox = newOutbox(10, &o.drops, nil, nil)
	w := newBlockingWriter(nil)
	o.attach(w)
	pushAll(o, "a")
	<-w.entered

	closed := make(chan struct{})
	go func() {
		o.close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("close returned while its goroutine was still writing")
	case <-time.After(50 * time.Millisecond):
	}
	close(w.release)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not return after the write finished")
	}

	// After close, pushes are ignored and flush does not block.
	if err := o.push(nil, []byte("ignored\n"), 0, nil); !errors.Is(err, errOutboxClosed) {
		t.Errorf("push after close = %v, want errOutboxClosed", err)
	}
	o.flush()
	if q, _ := o.state(); len(q) != 0 {
		t.Errorf("queue after close = %q, want empty", q)
	}
}

func TestOutboxCloseIdle(t *testing.T) {
	o := &testOutbox{}
	o.outbox = newOutbox(10, &o.drops, nil, nil)
	pushAll(o, "never written")
	done := make(chan struct{})
	go func() {
		o.close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("close of an idle outbox did not return")
	}
}

func TestOutboxConcurrentPush(t *testing.T) {
	o := newTestOutbox(t, 1<<20)
	var w recordWriter
	o.attach(&w)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				pushAll(o, fmt.Sprintf("%d-%d", g, i))
			}
		})
	}
	wg.Wait()
	waitFor(t, "every record", func() bool { return len(w.records()) == 1600 })
	// Each goroutine's records stay in its order.
	last := map[string]int{}
	for _, r := range w.records() {
		var g, i int
		fmt.Sscanf(r, "%d-%d", &g, &i)
		key := fmt.Sprint(g)
		if prev, ok := last[key]; ok && i != prev+1 {
			t.Fatalf("goroutine %d: record %d after %d", g, i, prev)
		}
		last[key] = i
	}
}

// The writer may get several records in one Write, but never part of one:
// the host splits the logs stream at newlines and the events stream at
// frame terminators, so a Write that ended inside a record would glue it to
// whatever the next Write carries after a reconnect.
func TestOutboxWriterSeesWholeRecords(t *testing.T) {
	o := newTestOutbox(t, 1000)
	var want []string
	for i := range 300 {
		// Sizes around the chunk size, so chunks fill up and records
		// straddle where a byte-count split would cut them.
		want = append(want, strings.Repeat(string(rune('a'+i%26)), (i*997)%(outboxChunk+5000)+1))
	}
	pushAll(o, want...) // queued while detached: one batch
	var w recordWriter
	o.attach(&w)
	o.flush()
	if diff := cmp.Diff(want, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	if bad := w.partialWrites(); len(bad) > 0 {
		t.Errorf("%d writes ended inside a record; the first is %d bytes", len(bad), len(bad[0]))
	}
	if len(w.writes) >= len(want) {
		t.Errorf("%d records took %d writes, want fewer writes than records", len(want), len(w.writes))
	}
}

// waitingOutbox returns an outbox of limit 1 whose writer is blocked inside
// a Write of "a", with "b" queued: the queue is full while a host is
// attached. waits receives each time a push starts waiting for room.
func waitingOutbox(t *testing.T) (o *testOutbox, w *blockingWriter, waits chan struct{}) {
	t.Helper()
	o = newTestOutbox(t, 1)
	waits = make(chan struct{}, 100)
	o.onWait = func() { waits <- struct{}{} }
	w = newBlockingWriter(nil)
	t.Cleanup(func() {
		select {
		case <-w.release:
		default:
			close(w.release)
		}
	})
	o.attach(w)
	pushAll(o, "a")
	<-w.entered
	pushAll(o, "b")
	return o, w, waits
}

// While a host is attached, a push to a full queue waits for room instead
// of dropping the oldest record.
func TestOutboxBackpressureWhileAttached(t *testing.T) {
	o, w, waits := waitingOutbox(t)
	var n atomic.Int64
	pushed := make(chan error, 1)
	go func() { pushed <- o.push(context.Background(), []byte("c\n"), 0, &n) }()
	<-waits // c waits for room
	if got := n.Load(); got != 0 {
		t.Errorf("count while waiting = %d, want 0", got)
	}
	close(w.release)
	if err := <-pushed; err != nil {
		t.Fatalf("push = %v, want nil once there is room", err)
	}
	o.flush()
	if diff := cmp.Diff([]string{"a", "b", "c"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	if _, dropped := o.state(); dropped != 0 || n.Load() != 1 {
		t.Errorf("dropped = %d, count = %d; want 0 and 1", dropped, n.Load())
	}
}

// A push that waits gives up when its context ends, counts the record as
// dropped, returns an error wrapping the context's, and the host is told.
func TestOutboxPushGivesUpWithContext(t *testing.T) {
	o, w, waits := waitingOutbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	pushed := make(chan error, 1)
	go func() { pushed <- o.push(ctx, []byte("c\n"), 0, &n) }()
	<-waits
	cancel()
	if err := <-pushed; !errors.Is(err, context.Canceled) {
		t.Fatalf("push after its context ended = %v, want an error wrapping context.Canceled", err)
	}
	if _, dropped := o.state(); dropped != 1 || n.Load() != 0 {
		t.Errorf("dropped = %d, count = %d; want 1 and 0", dropped, n.Load())
	}
	close(w.release)
	o.flush()
	if diff := cmp.Diff([]string{"a", "dropped 1", "b"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

// A bounded push (a log record) drops after its wait; then pushes to a full
// queue drop at once until the writer makes progress.
func TestOutboxBoundedWaitThenStalled(t *testing.T) {
	o, w, waits := waitingOutbox(t)
	if err := o.push(nil, []byte("c\n"), time.Millisecond, nil); err == nil {
		t.Fatal("push with a bounded wait on a stuck writer = nil, want an error")
	}
	<-waits
	if err := o.push(nil, []byte("d\n"), time.Hour, nil); err == nil {
		t.Fatal("push while stalled = nil, want an error at once")
	}
	if _, dropped := o.state(); dropped != 2 {
		t.Errorf("dropped = %d, want 2", dropped)
	}
	close(w.release)
	o.flush()
	if err := o.push(nil, []byte("e\n"), time.Hour, nil); err != nil {
		t.Fatalf("push after the writer made progress = %v, want nil", err)
	}
	o.flush()
	if diff := cmp.Diff([]string{"a", "dropped 2", "b", "e"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

// A push waiting for room when the host goes away stops waiting: with no
// host the queue drops its oldest record.
func TestOutboxDetachReleasesWaitingPush(t *testing.T) {
	o, _, waits := waitingOutbox(t)
	pushed := make(chan error, 1)
	go func() { pushed <- o.push(context.Background(), []byte("c\n"), 0, nil) }()
	<-waits
	o.detach()
	if err := <-pushed; err != nil {
		t.Fatalf("push after detach = %v, want nil", err)
	}
	q, dropped := o.state()
	if diff := cmp.Diff([]string{"c"}, q); diff != "" || dropped != 1 {
		t.Errorf("queue (-want +got):\n%s\ndropped = %d, want 1", diff, dropped)
	}
}

// A drop in another outbox (log records) kicks this one to send the notice
// although nothing else is queued.
func TestOutboxKickSendsNotice(t *testing.T) {
	o := newTestOutbox(t, 10)
	var w recordWriter
	o.attach(&w)
	o.flush()
	o.drops.Add(2)
	o.kick()
	o.flush()
	if diff := cmp.Diff([]string{"dropped 2"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

// A host that connected but has not opened its stream yet is a host: a
// handler it called at once may fill the queue, and must be slowed down,
// not have its first records dropped.
func TestOutboxExpectedHostSlowsInsteadOfDropping(t *testing.T) {
	o := newTestOutbox(t, 1)
	waits := make(chan struct{}, 10)
	o.onWait = func() { waits <- struct{}{} }
	o.expect()
	pushAll(o, "a")
	pushed := make(chan error, 1)
	go func() { pushed <- o.push(context.Background(), []byte("b\n"), 0, nil) }()
	<-waits
	var w recordWriter
	o.attach(&w) // the stream opens
	if err := <-pushed; err != nil {
		t.Fatalf("push = %v, want nil once the stream opened", err)
	}
	o.flush()
	if diff := cmp.Diff([]string{"a", "b"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	if _, dropped := o.state(); dropped != 0 {
		t.Errorf("dropped = %d, want 0", dropped)
	}
}
