package wire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

func TestReadAck(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr error
	}{
		{"524288\n", 524288, nil},
		{"1\n", 1, nil},
		{"0\n", 0, ErrMalformed},
		{"-5\n", 0, ErrMalformed},
		{"12a\n", 0, ErrMalformed},
		{"\n", 0, ErrMalformed},
		{"99999999999999999999\n", 0, ErrMalformed},
		{strings.Repeat("1", 100) + "\n", 0, ErrMalformed},
		{"", 0, io.EOF},
	} {
		got, err := ReadAck(bufio.NewReaderSize(strings.NewReader(tc.in), 16))
		if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("ReadAck(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if got := string(AppendAck(nil, 524288)); got != "524288\n" {
		t.Errorf("AppendAck(524288) = %q, want %q", got, "524288\n")
	}
}

// ackSink records what is written and tells about each write.
type ackSink struct {
	buf    bytes.Buffer
	writes chan int
}

func (w *ackSink) Write(p []byte) (int, error) {
	w.buf.Write(p)
	w.writes <- len(p)
	return len(p), nil
}

// An ItemWriter writes messages whole and in order, writes no more than its
// window ahead of the acknowledgements (a write that does not fit waits for
// one), and refuses an acknowledgement of more than it wrote.
func TestItemWriterWindow(t *testing.T) {
	sink := &ackSink{writes: make(chan int, 16)}
	iw := NewItemWriter(sink, 1<<20, 10)
	go iw.Run()
	ctx := context.Background()
	if err := iw.Write(ctx, []byte("aaaa"), []byte("bbbb")); err != nil {
		t.Fatal(err)
	}
	if n := <-sink.writes; n != 8 {
		t.Fatalf("first write of %d bytes, want 8", n)
	}
	if err := iw.Ack(9); !errors.Is(err, ErrMalformed) {
		t.Errorf("Ack(9) after 8 bytes = %v, want ErrMalformed", err)
	}
	// 8 unacknowledged + 8 more exceed the window of 10: the next write
	// happens only after an acknowledgement.
	if err := iw.Write(ctx, []byte("cccccccc")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- iw.Close(ctx, []byte("dd")) }()
	if err := iw.Ack(8); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := sink.buf.String(); got != "aaaabbbbccccccccdd" {
		t.Errorf("written %q, want %q", got, "aaaabbbbccccccccdd")
	}
	if err := iw.Write(ctx, []byte("e")); !errors.Is(err, ErrItemWriterClosed) {
		t.Errorf("Write after Close = %v, want ErrItemWriterClosed", err)
	}
}

// Abort ends Run while it waits for the window.
func TestItemWriterAbort(t *testing.T) {
	sink := &ackSink{writes: make(chan int, 16)}
	iw := NewItemWriter(sink, 4, 4)
	go iw.Run()
	ctx := context.Background()
	if err := iw.Write(ctx, []byte("aaaa")); err != nil {
		t.Fatal(err)
	}
	<-sink.writes
	if err := iw.Write(ctx, []byte("bbbb")); err != nil { // Run waits for the window
		t.Fatal(err)
	}
	errStop := errors.New("stop")
	iw.Abort(errStop)
	<-iw.Done()
	if err := iw.Write(ctx, []byte("d")); !errors.Is(err, errStop) {
		t.Errorf("Write after Abort = %v, want its error", err)
	}
	if got := sink.buf.String(); got != "aaaa" {
		t.Errorf("written %q, want %q", got, "aaaa")
	}
}

// ReadAck never panics, and what it accepts is a positive count that
// AppendAck writes back the same.
func FuzzReadAck(f *testing.F) {
	for _, s := range []string{"524288\n", "0\n", "-1\n", "+7\n", "1\n2\n", "\n", "007\n", "9223372036854775807\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ReadAck(bufio.NewReaderSize(bytes.NewReader(b), 16))
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("ReadAck(%q) = %d, want a positive count or an error", b, n)
		}
		back, err := ReadAck(bufio.NewReader(bytes.NewReader(AppendAck(nil, n))))
		if err != nil || back != n {
			t.Fatalf("ReadAck(AppendAck(%d)) = %d, %v", n, back, err)
		}
	})
}

// TestProtocolDocStreamExample keeps the stream example of
// handshake/PROTOCOL.md (section 10a) true.
func TestProtocolDocStreamExample(t *testing.T) {
	doc, err := os.ReadFile("../../handshake/PROTOCOL.md")
	if err != nil {
		t.Fatalf("read PROTOCOL.md: %v", err)
	}
	type req struct {
		Lines int `json:"lines"`
	}
	type line struct {
		N    int    `json:"n"`
		Text string `json:"text"`
	}
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	for _, tc := range []struct {
		h       Header
		payload any
	}{
		{Header{Version: 1, Kind: shared.KindRequest, Type: "lines", ID: "42"}, req{2}},
		{Header{Version: 1, Kind: shared.KindItem, Type: "lines", ID: "42"}, line{1, "alpha"}},
		{Header{Version: 1, Kind: shared.KindItem, Type: "lines", ID: "42"}, line{2, "beta"}},
		{Header{Version: 1, Kind: shared.KindResult, Type: "lines", ID: "42", Events: 1}, nil},
	} {
		out, _, err := c.Encode(nil, &tc.h, tc.payload)
		if err != nil {
			t.Fatalf("Encode(%+v) = %v", tc.h, err)
		}
		if want := strings.ReplaceAll(string(out), "\n", `\n`); !strings.Contains(string(doc), want) {
			t.Errorf("PROTOCOL.md does not show the %s as the codec writes it: %s", tc.h.Kind, want)
		}
	}
	if !strings.Contains(string(doc), "| 6 | item |") || !strings.Contains(string(doc), "`"+string(AppendAck(nil, AckEvery)[:len(AppendAck(nil, AckEvery))-1])+`\n`+"`") {
		t.Errorf("PROTOCOL.md does not list kind 6 (item) or show an acknowledgement of AckEvery bytes")
	}
}
