package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
)

// TestSenderCallerNeverWaitsForStalledStream: while the peer reads
// nothing, Write returns at once until the queue is full; then a Write
// whose context ends gives up that one message, nothing of it queued. When
// the peer reads again every queued message arrives whole and in order,
// and the abandoned one never does.
func TestSenderCallerNeverWaitsForStalledStream(t *testing.T) {
	pr, pw := io.Pipe() // a write waits until the peer reads: a stopped peer
	done := make(chan struct{})
	s := NewSender(pw, 64, done)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Run()
	}()
	defer func() {
		close(done)
		pr.Close()
		wg.Wait()
	}()

	msg := func(i int) []byte { return fmt.Appendf(nil, "message %03d;", i) } // 12 bytes
	var want bytes.Buffer
	queued := 0
	for i := 0; ; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a Write that would wait gives up at once
		err := s.Write(ctx, msg(i))
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil {
			t.Fatalf("Write(%d) = %v, want nil or context.Canceled", i, err)
		}
		want.Write(msg(i))
		queued++
		if queued > 1000 {
			t.Fatal("Write never waited for room: the queue is unbounded")
		}
	}
	if queued < 2 {
		t.Fatalf("queued %d messages before the queue was full, want several", queued)
	}
	// The last queued message marks the end of what must arrive.
	if err := s.Write(context.Background(), []byte("end;")); err != nil {
		// Waits for room: the reader below makes it.
		t.Fatalf("Write(end) = %v", err)
	}
	want.WriteString("end;")
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(pr, got); err != nil {
		t.Fatalf("reading what the Sender wrote: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("stream carried\n%q\nwant\n%q", got, want.Bytes())
	}
}

// TestSenderWriteWaitingForRoomEndsWithConnection: a Write waiting for room
// returns ErrSenderClosed when the connection ends.
func TestSenderWriteWaitingForRoomEndsWithConnection(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	done := make(chan struct{})
	s := NewSender(pw, 8, done)
	if err := s.Queue(bytes.Repeat([]byte("x"), 16)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Write(context.Background(), []byte("y")) }()
	close(done)
	if err := <-errc; !errors.Is(err, ErrSenderClosed) {
		t.Errorf("Write waiting for room after the connection ended = %v, want ErrSenderClosed", err)
	}
}

// TestSenderStreamErrorIsSticky: once the stream failed, every Write
// returns its error.
func TestSenderStreamErrorIsSticky(t *testing.T) {
	pr, pw := io.Pipe()
	boom := errors.New("boom")
	pr.CloseWithError(boom)
	done := make(chan struct{})
	defer close(done)
	s := NewSender(pw, 1<<10, done)
	s.Queue([]byte("a"))
	s.Run() // returns: the write fails
	if err := s.Write(context.Background(), []byte("b")); !errors.Is(err, boom) {
		t.Errorf("Write after the stream failed = %v, want %v", err, boom)
	}
}

// signalWriter reports each Write on written, after taking its bytes.
type signalWriter struct{ written chan int }

func (w signalWriter) Write(p []byte) (int, error) {
	w.written <- len(p)
	return len(p), nil
}

// TestSenderReusesLargeBatchBuffer: a Sender that carries one large
// message after another (1 MiB echoes on the bulk stream) copies each into
// the buffer the previous batch used, not into a fresh allocation: a new
// 1 MiB buffer per message (plus its page faults and garbage collection)
// halved the throughput of 1 MiB echoes.
func TestSenderReusesLargeBatchBuffer(t *testing.T) {
	done := make(chan struct{})
	w := signalWriter{written: make(chan int)}
	s := NewSender(w, MaxQueued, done)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Run()
	}()
	defer func() {
		close(done)
		wg.Wait()
	}()
	header := make([]byte, 64)
	payload := make([]byte, 1<<20)
	// A context that can end: Write queues (with one that cannot, it would
	// write on this goroutine).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	send := func() {
		if err := s.Write(ctx, header, payload); err != nil {
			t.Fatal(err)
		}
		if n := <-w.written; n != len(header)+len(payload) {
			t.Fatalf("wrote %d bytes, want %d", n, len(header)+len(payload))
		}
	}
	send() // the first message allocates the buffers
	send()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const rounds = 10
	for range rounds {
		send()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / rounds; per >= uint64(len(payload)) {
		t.Errorf("each 1 MiB message allocated %d bytes, want the batch buffer reused", per)
	}
}

// TestSenderWriteNowMixed: writers that write themselves (WriteNow, small
// and large messages) and writers that queue (Write) share one stream;
// every message arrives whole, each writer's in its order.
func TestSenderWriteNowMixed(t *testing.T) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	s := NewSender(pw, 1<<10, done)
	var run sync.WaitGroup
	run.Go(s.Run)
	const writers, each = 8, 50
	msg := func(w, i int) []byte {
		size := 10
		if i%10 == 0 {
			size = LargeThreshold // written as it is, not queued
		}
		m := append(fmt.Appendf(nil, "<%d:%03d:", w, i), bytes.Repeat([]byte{'x'}, size)...)
		return append(m, '>')
	}
	total := 0
	for w := range writers {
		for i := range each {
			total += len(msg(w, i))
		}
	}
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, total)
		n, _ := io.ReadFull(pr, b)
		got <- b[:n]
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var err error
				if w%2 == 0 {
					err = s.WriteNow(msg(w, i))
				} else {
					err = s.Write(context.Background(), msg(w, i))
				}
				if err != nil {
					t.Errorf("writer %d message %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	b := <-got // all of it: nothing queued is left behind
	close(done)
	run.Wait()
	pw.Close()
	next := make([]int, writers)
	for _, m := range bytes.Split(b, []byte(">")) {
		if len(m) == 0 {
			continue
		}
		var w, i int
		if _, err := fmt.Sscanf(string(m), "<%d:%03d:", &w, &i); err != nil {
			t.Fatalf("message %q is not whole: %v", m[:min(len(m), 20)], err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: message %d arrived, want %d", w, i, next[w])
		}
		next[w]++
	}
	for w, n := range next {
		if n != each {
			t.Errorf("writer %d: %d messages arrived, want %d", w, n, each)
		}
	}
}

// writeCounter records each Write it is given, as a yamux stream sends
// each Write as one frame.
type writeCounter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, bytes.Clone(p))
	w.mu.Unlock()
	return len(p), nil
}

// TestSenderWriteNowOneWritePerMessage: a message whose envelope plus
// payload is just over 64 KiB, or at the bulk threshold, still reaches the
// stream in one Write (one yamux frame), not split into envelope and
// payload; that split cost a second send-loop round trip, the issue's
// latency step between 65,450 and 65,460 bytes of payload.
func TestSenderWriteNowOneWritePerMessage(t *testing.T) {
	envelope := bytes.Repeat([]byte("e"), 85)
	for _, size := range []int{100, 65450, 65460, LargeThreshold, 200 << 10, MaxCopy - len(envelope)} {
		w := &writeCounter{}
		s := NewSender(w, MaxQueued, nil)
		payload := bytes.Repeat([]byte{'p'}, size)
		if err := s.WriteNow(envelope, payload); err != nil {
			t.Fatalf("WriteNow(%d B payload) = %v", size, err)
		}
		if len(w.writes) != 1 {
			t.Errorf("a %d B payload with its %d B envelope took %d stream Writes, want 1", size, len(envelope), len(w.writes))
			continue
		}
		if want := append(bytes.Clone(envelope), payload...); !bytes.Equal(w.writes[0], want) {
			t.Errorf("a %d B payload: the stream got %d bytes, not the envelope and payload in order", size, len(w.writes[0]))
		}
	}
}

// TestSenderWriteAllocations: writing a small message when nobody waits
// for room allocates nothing (a channel per batch was an allocation per
// message on both sides).
func TestSenderWriteAllocations(t *testing.T) {
	s := NewSender(io.Discard, MaxQueued, nil)
	msg := []byte("a small message\n")
	if n := testing.AllocsPerRun(100, func() {
		if err := s.WriteNow(msg); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WriteNow of a small message: %v allocations, want 0", n)
	}
}

// TestSenderWritesOnCallersGoroutineWhenNothingCanEndTheWait: Run is not
// running here, so only a write on the caller's goroutine reaches the
// stream. A Write whose context can never end (a call with no deadline
// and no cancel) writes itself when the stream is idle, and WriteNow does
// not wake Run for a message it writes itself; a Write whose context can
// end only queues, so that its caller is never held by the stream.
func TestSenderWritesOnCallersGoroutineWhenNothingCanEndTheWait(t *testing.T) {
	w := &writeCounter{}
	s := NewSender(w, MaxQueued, nil)
	if err := s.Write(context.Background(), []byte("no deadline;")); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 1 || string(w.writes[0]) != "no deadline;" {
		t.Fatalf("a Write with no deadline on an idle stream wrote %q, want it written by the caller", w.writes)
	}
	if len(s.kick) != 0 {
		t.Error("a Write that wrote itself woke Run")
	}
	if err := s.WriteNow([]byte("reply;")); err != nil {
		t.Fatal(err)
	}
	if len(s.kick) != 0 {
		t.Error("WriteNow woke Run for a message it wrote itself")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Write(ctx, []byte("cancellable;")); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 2 {
		t.Errorf("a Write whose context can end wrote on the caller's goroutine: %q", w.writes)
	}
	if len(s.kick) != 1 {
		t.Error("a queued message did not wake Run")
	}
}
