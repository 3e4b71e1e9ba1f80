package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recordWriter collects each Write as one record. It is safe for
// concurrent use.
type recordWriter struct {
	mu   sync.Mutex
	recs []string
}

func (w *recordWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.recs = append(w.recs, string(p))
	return len(p), nil
}

func (w *recordWriter) records() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.recs...)
}

// failAfter accepts n writes, then fails every write.
type failAfter struct {
	recordWriter
	n int
}

var errWriteFailed = errors.New("write failed")

func (w *failAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(w.recs) >= w.n {
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

func testNotice(n int) []byte { return fmt.Appendf(nil, "dropped %d", n) }

// newTestOutbox returns an outbox closed when the test ends.
func newTestOutbox(t *testing.T, limit int, notice func(int) []byte) *outbox {
	t.Helper()
	o := newOutbox(limit, notice)
	t.Cleanup(o.close)
	return o
}

// state returns the queued records and the drop count.
func (o *outbox) state() ([]string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var q []string
	for _, r := range o.queue {
		q = append(q, string(r))
	}
	return q, o.dropped
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

func pushAll(o *outbox, recs ...string) {
	for _, r := range recs {
		o.push([]byte(r))
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
			o := newTestOutbox(t, tt.limit, testNotice)
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

func TestOutboxPushCopies(t *testing.T) {
	o := newTestOutbox(t, 4, nil)
	b := []byte("original")
	o.push(b)
	copy(b, "CHANGED!")
	if q, _ := o.state(); len(q) != 1 || q[0] != "original" {
		t.Errorf("queue = %q, want [original]: push must copy", q)
	}
}

func TestOutboxNoticeOnAttach(t *testing.T) {
	o := newTestOutbox(t, 2, testNotice)
	pushAll(o, "1", "2", "3", "4", "5")
	var w recordWriter
	o.attach(&w)
	o.flush()
	if diff := cmp.Diff([]string{"dropped 3", "4", "5"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	if _, dropped := o.state(); dropped != 0 {
		t.Errorf("dropped after the notice = %d, want 0", dropped)
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
	o := newTestOutbox(t, 10, testNotice)
	pushAll(o, "a", "b")
	var w recordWriter
	o.attach(&w)
	o.flush()
	if diff := cmp.Diff([]string{"a", "b"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

func TestOutboxNilNotice(t *testing.T) {
	o := newTestOutbox(t, 1, nil)
	pushAll(o, "a", "b", "c")
	var w recordWriter
	o.attach(&w)
	o.flush()
	if diff := cmp.Diff([]string{"c"}, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

func TestOutboxWritesInOrderWhileAttached(t *testing.T) {
	o := newTestOutbox(t, 10000, nil)
	var w recordWriter
	o.attach(&w)
	var want []string
	for i := range 1000 {
		r := fmt.Sprint(i)
		want = append(want, r)
		o.push([]byte(r))
	}
	o.flush()
	waitFor(t, "all records", func() bool { return len(w.records()) == len(want) })
	if diff := cmp.Diff(want, w.records()); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
}

func TestOutboxFailedWriteKeepsRecords(t *testing.T) {
	o := newTestOutbox(t, 10, testNotice)
	pushAll(o, "a", "b", "c")
	bad := &failAfter{n: 1}
	o.attach(bad)
	waitFor(t, "the failing writer to be detached", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.w == nil
	})
	if diff := cmp.Diff([]string{"a"}, bad.records()); diff != "" {
		t.Errorf("records the failing writer took (-want +got):\n%s", diff)
	}
	pushAll(o, "d")
	var good recordWriter
	o.attach(&good)
	o.flush()
	waitFor(t, "the rest", func() bool { return len(good.records()) == 3 })
	if diff := cmp.Diff([]string{"b", "c", "d"}, good.records()); diff != "" {
		t.Errorf("records kept for the next writer (-want +got):\n%s", diff)
	}
}

// A write that fails after a new writer was attached must not detach the
// new writer.
func TestOutboxFailedWriteDetachesOnlyItsWriter(t *testing.T) {
	o := newTestOutbox(t, 10, nil)
	old := newBlockingWriter(errWriteFailed)
	o.push([]byte("a"))
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
	attached := o.w == &fresh
	o.mu.Unlock()
	if !attached {
		t.Errorf("the old writer's failure detached the new writer")
	}
}

func TestOutboxFlushWithoutWriterReturns(t *testing.T) {
	o := newTestOutbox(t, 10, nil)
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
	o := newTestOutbox(t, 10, nil)
	w := newBlockingWriter(nil)
	o.push([]byte("last record"))
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
	o := newOutbox(10, nil)
	w := newBlockingWriter(nil)
	o.attach(w)
	o.push([]byte("a"))
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
	o.push([]byte("ignored"))
	o.flush()
	if q, _ := o.state(); len(q) != 0 {
		t.Errorf("queue after close = %q, want empty", q)
	}
}

func TestOutboxCloseIdle(t *testing.T) {
	o := newOutbox(10, nil)
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
	o := newTestOutbox(t, 1<<20, nil)
	var w recordWriter
	o.attach(&w)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				o.push(fmt.Appendf(nil, "%d-%d", g, i))
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

func TestOutboxWriterSeesWholeRecords(t *testing.T) {
	o := newTestOutbox(t, 10, nil)
	var buf bytes.Buffer
	var mu sync.Mutex
	o.attach(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	pushAll(o, "one\n", "two\n")
	waitFor(t, "both records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return buf.String() == "one\ntwo\n"
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
