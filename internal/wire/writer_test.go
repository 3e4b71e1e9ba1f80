package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// recorder is an io.Writer that keeps every Write it receives.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
	buf    bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(p))
	r.buf.Write(p)
	return len(p), nil
}

func (r *recorder) snapshot() (int, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes), bytes.Clone(r.buf.Bytes())
}

// TestWriterConcurrent has many goroutines send envelopes at once through
// one Writer: every message arrives whole, none interleaved, none lost.
func TestWriterConcurrent(t *testing.T) {
	const writers, perWriter = 16, 200
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	rec := &recorder{}
	w := NewWriter(rec)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				h := Header{Version: 1, Kind: shared.KindResult, Type: "echo", ID: fmt.Sprintf("%d-%d", g, i)}
				var payload any = echoResult{Text: strings.Repeat("x", i), At: int64(i)}
				if i%3 == 0 {
					payload = bytes.Repeat([]byte{byte(g)}, i) // raw: written as a second part
				}
				out, raw, err := c.Encode(nil, &h, payload)
				if err != nil {
					t.Errorf("Encode(%+v) = %v", h, err)
					return
				}
				if err := w.Write(out, raw); err != nil {
					t.Errorf("Write(%s) = %v", h.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	writes, stream := rec.snapshot()
	t.Logf("%d messages in %d writes to the stream", writers*perWriter, writes)
	// Each message is one Write at most (its parts are never written
	// apart), and with 16 goroutines writing at once the Writer coalesces:
	// a Writer that flushed every message on its own would make exactly
	// one Write per message.
	if writes >= writers*perWriter {
		t.Errorf("Writer made %d writes for %d concurrent messages, want fewer: it did not coalesce", writes, writers*perWriter)
	}

	r := frame.NewReader(bufio.NewReader(bytes.NewReader(stream)), c.Terminator(), c.MaxFrame())
	next := make(map[int]int) // writer -> next message index expected
	for range writers * perWriter {
		h, body, err := c.Read(r)
		if err != nil {
			t.Fatalf("Read() = %v after %v", err, next)
		}
		var g, i int
		if _, err := fmt.Sscanf(h.ID, "%d-%d", &g, &i); err != nil {
			t.Fatalf("Read() id %q: %v", h.ID, err)
		}
		if i != next[g] {
			t.Fatalf("message %s arrived, want %d-%d: a writer's messages are out of order", h.ID, g, next[g])
		}
		next[g]++
		if i%3 == 0 {
			if want := bytes.Repeat([]byte{byte(g)}, i); !bytes.Equal(body, want) {
				t.Fatalf("message %s raw body = %q, want %q", h.ID, body, want)
			}
			continue
		}
		var got echoResult
		if err := c.DecodeBody(&h, body, &got); err != nil {
			t.Fatalf("DecodeBody(%s) = %v", h.ID, err)
		}
		if diff := cmp.Diff(echoResult{Text: strings.Repeat("x", i), At: int64(i)}, got); diff != "" {
			t.Fatalf("message %s mismatch (-want +got):\n%s", h.ID, diff)
		}
	}
	if _, _, err := c.Read(r); err != io.EOF {
		t.Errorf("Read() after every message = %v, want io.EOF", err)
	}
}

// TestWriterFlushesEveryBurst sends bursts of concurrent messages. When
// every Write of a burst has returned, the whole burst has reached the
// stream: no writer leaves bytes behind in the buffer for a flush that
// never comes.
func TestWriterFlushesEveryBurst(t *testing.T) {
	const bursts, writers = 300, 8
	rec := &recorder{}
	w := NewWriter(rec)
	total := 0
	for b := range bursts {
		var wg sync.WaitGroup
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.Write([]byte(fmt.Sprintf("%d-%d", b, g)), []byte("\n")); err != nil {
					t.Errorf("Write() = %v", err)
				}
			}()
		}
		wg.Wait()
		total += writers
		_, stream := rec.snapshot()
		if got := bytes.Count(stream, []byte("\n")); got != total {
			t.Fatalf("after burst %d every Write returned, but the stream holds %d of %d messages", b, got, total)
		}
	}
	writes, _ := rec.snapshot()
	t.Logf("%d messages in %d writes to the stream", total, writes)
}

type failingWriter struct {
	after int // successful writes before failing
	n     int
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, f.err
	}
	f.n++
	return len(p), nil
}

func TestWriterErrorIsSticky(t *testing.T) {
	broken := errors.New("stream reset")
	w := NewWriter(&failingWriter{after: 1, err: broken})
	if err := w.Write([]byte("ok\n")); err != nil {
		t.Fatalf("Write() #1 = %v, want nil", err)
	}
	if err := w.Write([]byte("lost\n")); !errors.Is(err, broken) {
		t.Errorf("Write() #2 = %v, want %v", err, broken)
	}
	if err := w.Write([]byte("later\n")); !errors.Is(err, broken) {
		t.Errorf("Write() after a failure = %v, want the first error %v", err, broken)
	}
}

func TestWriterLargeParts(t *testing.T) {
	// Parts larger than the Writer's 64 KiB buffer go through whole.
	rec := &recorder{}
	w := NewWriter(rec)
	big := bytes.Repeat([]byte("0123456789abcdef"), 10<<10) // 160 KiB
	if err := w.Write([]byte("hdr\n"), big, []byte("end\n")); err != nil {
		t.Fatalf("Write(big) = %v", err)
	}
	_, stream := rec.snapshot()
	if want := append(append([]byte("hdr\n"), big...), "end\n"...); !bytes.Equal(stream, want) {
		t.Errorf("Write(hdr, %d bytes, end) delivered %d bytes, want %d", len(big), len(stream), len(want))
	}
}
