package frame_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// readers wrap a stream the ways a socket delivers it: all at once, a byte
// at a time, half of each read, with io.EOF on the last data.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"OneByteReader", iotest.OneByteReader},
	{"HalfReader", iotest.HalfReader},
	{"DataErrReader", iotest.DataErrReader},
}

// readAll reads frames until an error other than a frame too large and
// returns copies of them, with "<too large: N>" for a frame of N bytes
// that was skipped.
func readAll(r *frame.Reader) ([]string, error) {
	var frames []string
	for {
		b, err := r.Next()
		var tl *shared.FrameTooLargeError
		if errors.As(err, &tl) {
			frames = append(frames, fmt.Sprintf("<too large: %d>", tl.Size))
			continue
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, string(b))
	}
}

func TestReaderNext(t *testing.T) {
	tests := []struct {
		name    string
		term    string
		max     int
		in      string
		want    []string
		wantErr error
	}{
		{name: "newline", term: "\n", in: "a\nbc\n\n{}\n", want: []string{"a", "bc", "", "{}"}, wantErr: io.EOF},
		{name: "empty stream", term: "\n", in: "", wantErr: io.EOF},
		{name: "only terminators", term: "\n", in: "\n\n", want: []string{"", ""}, wantErr: io.EOF},
		{name: "unterminated tail", term: "\n", in: "a\nb", want: []string{"a"}, wantErr: io.ErrUnexpectedEOF},
		{name: "CRLF", term: "\r\n", in: "a\r\nb\rc\nd\r\n", want: []string{"a", "b\rc\nd"}, wantErr: io.EOF},
		{name: "CRLF cut after CR", term: "\r\n", in: "a\r\nb\r", want: []string{"a"}, wantErr: io.ErrUnexpectedEOF},
		{name: "two zero bytes", term: "\x00\x00", in: "a\x00b\x00\x00\x00\x00c\x00\x00", want: []string{"a\x00b", "", "c"}, wantErr: io.EOF},
		{name: "three zero bytes split the first pair", term: "\x00\x00", in: "\x00\x00\x00", want: []string{""}, wantErr: io.ErrUnexpectedEOF},
		{name: "self-overlapping terminator", term: "aba", in: "xabababay", want: []string{"x", "b"}, wantErr: io.ErrUnexpectedEOF},
		{name: "terminator repeats its last byte", term: "xyy", in: "1xyy2xyxyy", want: []string{"1", "2xy"}, wantErr: io.EOF},
		{name: "frame of exactly max", term: "\n", max: 5, in: "12345\n6\n", want: []string{"12345", "6"}, wantErr: io.EOF},
		{name: "frame over max", term: "\n", max: 5, in: "1\n123456\n7\n", want: []string{"1", "<too large: 6>", "7"}, wantErr: io.EOF},
		{name: "multi-byte frame over max", term: "\x00\x00", max: 3, in: "abcd\x00\x00", want: []string{"<too large: 4>"}, wantErr: io.EOF},
		{name: "terminator split after max", term: "\r\n", max: 3, in: "abcd\r\r\nok\r\n", want: []string{"<too large: 5>", "ok"}, wantErr: io.EOF},
		{name: "long frames in a row", term: "\x00\x00", max: 4, in: strings.Repeat("y", 40) + "\x00\x00" + strings.Repeat("z", 33) + "\x00\x00\x00", want: []string{"<too large: 40>", "<too large: 33>"}, wantErr: io.ErrUnexpectedEOF},
		{name: "no terminator past max", term: "\n", max: 4, in: strings.Repeat("z", 100), wantErr: io.ErrUnexpectedEOF},
		{name: "unterminated tail within max", term: "\n", max: 4, in: "zzzz", wantErr: io.ErrUnexpectedEOF},
		{name: "max zero", term: "\n", max: 0, in: "\n\nx\n", want: []string{"", "", "<too large: 1>"}, wantErr: io.EOF},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			for _, size := range []int{16, 4096} {
				t.Run(fmt.Sprintf("%s/%s/%d", tt.name, rd.name, size), func(t *testing.T) {
					max := tt.max
					if max == 0 && tt.name != "max zero" {
						max = 1 << 20
					}
					br := bufio.NewReaderSize(rd.wrap(strings.NewReader(tt.in)), size)
					got, err := readAll(frame.NewReader(br, []byte(tt.term), max))
					if diff := cmp.Diff(tt.want, got); diff != "" {
						t.Errorf("Next() frames of %q split on %q mismatch (-want +got):\n%s", tt.in, tt.term, diff)
					}
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("Next() after the last frame of %q = %v, want %v", tt.in, err, tt.wantErr)
					}
				})
			}
		}
	}
}

func TestReaderNextLargerThanBuffer(t *testing.T) {
	big := strings.Repeat("0123456789", 1000) // 10000 bytes through a 16-byte buffer
	terms := []string{"\n", "\x00\x00", "\r\n\r\n"}
	for _, term := range terms {
		for _, rd := range readers {
			in := big + term + "small" + term + big + "x" + term
			br := bufio.NewReaderSize(rd.wrap(strings.NewReader(in)), 16)
			got, err := readAll(frame.NewReader(br, []byte(term), len(big)+1))
			if diff := cmp.Diff([]string{big, "small", big + "x"}, got); diff != "" {
				t.Errorf("%s: Next() frames split on %q mismatch (-want +got):\n%s", rd.name, term, diff)
			}
			if err != io.EOF {
				t.Errorf("%s: Next() at the end = %v, want io.EOF", rd.name, err)
			}
		}
	}
}

func TestReaderNextTooLargeText(t *testing.T) {
	tests := []struct {
		in, want string
		size     int
	}{
		// The whole frame is in the buffer.
		{in: "123456\n", size: 4096, want: "frame exceeds the maximum frame size: frame of 6 bytes, limit 5"},
		// A frame longer than the buffer is skipped to its end: its size is exact.
		{in: strings.Repeat("x", 64) + "\n", size: 16, want: "frame exceeds the maximum frame size: frame of 64 bytes, limit 5"},
	}
	for _, tt := range tests {
		r := frame.NewReader(bufio.NewReaderSize(strings.NewReader(tt.in), tt.size), []byte("\n"), 5)
		_, err := r.Next()
		if err == nil || err.Error() != tt.want {
			t.Errorf("Next() on %q with limit 5 = %v, want %q", tt.in, err, tt.want)
		}
		if !errors.Is(err, shared.ErrFrameTooLarge) {
			t.Errorf("Next() on %q with limit 5 = %v, want errors.Is ErrFrameTooLarge", tt.in, err)
		}
	}
}

func TestReaderNextReadError(t *testing.T) {
	boom := errors.New("connection reset")
	for _, prefix := range []string{"", "partial frame"} {
		r := io.MultiReader(strings.NewReader("ok\n"+prefix), iotest.ErrReader(boom))
		got, err := readAll(frame.NewReader(bufio.NewReaderSize(r, 16), []byte("\n"), 100))
		if diff := cmp.Diff([]string{"ok"}, got); diff != "" {
			t.Errorf("frames before the read error mismatch (-want +got):\n%s", diff)
		}
		if !errors.Is(err, boom) {
			t.Errorf("Next() with %q before a read error = %v, want %v", prefix, err, boom)
		}
	}
}

func TestReadRaw(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int
		want    string
		wantErr error
	}{
		{name: "exact", in: "hdr\nRAW\x00\n\x00", n: 6, want: "RAW\x00\n\x00"},
		{name: "zero bytes", in: "hdr\n", n: 0, want: ""},
		{name: "more follows", in: "hdr\nabcdef", n: 3, want: "abc"},
		{name: "stream ends before", in: "hdr\n", n: 3, wantErr: io.ErrUnexpectedEOF},
		{name: "stream ends inside", in: "hdr\nab", n: 3, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := frame.NewReader(bufio.NewReaderSize(rd.wrap(strings.NewReader(tt.in)), 16), []byte("\n"), 100)
				if h, err := r.Next(); err != nil || string(h) != "hdr" {
					t.Fatalf("Next() = %q, %v, want \"hdr\", nil", h, err)
				}
				got, err := r.ReadRaw(tt.n)
				if string(got) != tt.want || !errors.Is(err, tt.wantErr) {
					t.Errorf("ReadRaw(%d) = %q, %v, want %q, %v", tt.n, got, err, tt.want, tt.wantErr)
				}
			})
		}
	}
}

func TestReadRawThenNext(t *testing.T) {
	// A raw body may contain the terminator; the frame after it is intact.
	in := "h1\n" + "a\nb\n" + "h2\n"
	r := frame.NewReader(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16), []byte("\n"), 100)
	var got []string
	for _, step := range []func() ([]byte, error){r.Next, func() ([]byte, error) { return r.ReadRaw(4) }, r.Next, r.Next} {
		b, err := step()
		got = append(got, fmt.Sprintf("%q %v", b, err))
	}
	want := []string{`"h1" <nil>`, `"a\nb\n" <nil>`, `"h2" <nil>`, `"" EOF`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Next, ReadRaw(4), Next, Next mismatch (-want +got):\n%s", diff)
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		name    string
		dst     string
		body    string
		term    string
		max     int
		want    string
		wantErr string
		is      error
	}{
		{name: "newline", body: `{"a":1}`, term: "\n", want: "{\"a\":1}\n"},
		{name: "appends to dst", dst: "prev\n", body: "next", term: "\n", want: "prev\nnext\n"},
		{name: "empty body", body: "", term: "\x00\x00", want: "\x00\x00"},
		{name: "multi-byte with one zero inside", body: "a\x00b", term: "\x00\x00", want: "a\x00b\x00\x00"},
		{name: "exactly max", body: "12345", term: "\n", max: 5, want: "12345\n"},
		{
			name: "over max", dst: "keep", body: "123456", term: "\n", max: 5, want: "keep",
			wantErr: "frame exceeds the maximum frame size: frame of 6 bytes, limit 5", is: shared.ErrFrameTooLarge,
		},
		{
			name: "contains the terminator", dst: "keep", body: "a\nb", term: "\n", want: "keep",
			wantErr: `serialized message contains the frame terminator ("\n" at byte 1): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{
			name: "ends with the terminator", body: "ab\n", term: "\n",
			wantErr: `serialized message contains the frame terminator ("\n" at byte 2): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{
			name: "contains a multi-byte terminator", body: "a\x00\x00b", term: "\x00\x00",
			wantErr: `serialized message contains the frame terminator ("\x00\x00" at byte 1): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{
			name: "ends with a prefix of the terminator", body: "a\x00", term: "\x00\x00",
			wantErr: `serialized message contains the frame terminator ("\x00\x00" at byte 1): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{
			name: "ends with a longer prefix", body: "x\r\n", term: "\r\n\r\n",
			wantErr: `serialized message contains the frame terminator ("\r\n\r\n" at byte 1): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{
			name: "self-overlapping terminator", body: "ab", term: "aba",
			wantErr: `serialized message contains the frame terminator ("aba" at byte 0): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{name: "prefix that cannot start a match", body: "x\r\n\r", term: "\r\n\r\n", want: "x\r\n\r\r\n\r\n"},
		{name: "suffix that is not a prefix", body: "\x00a", term: "\x00\x00", want: "\x00a\x00\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = 1 << 20
			}
			got, err := frame.Append([]byte(tt.dst), []byte(tt.body), []byte(tt.term), max)
			if string(got) != tt.want || errText(err) != tt.wantErr {
				t.Errorf("Append(%q, %q, %q, %d) = %q, %q, want %q, %q", tt.dst, tt.body, tt.term, max, got, errText(err), tt.want, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Append(%q, %q, %q) = %v, want errors.Is %v", tt.dst, tt.body, tt.term, err, tt.is)
			}
		})
	}
}

// TestAppendThenNext checks that what Append accepts, Next splits back.
func TestAppendThenNext(t *testing.T) {
	for _, term := range []string{"\n", "\x00\x00", "\r\n", "aba", "xyy"} {
		bodies := []string{"", "plain", "a\x00b", "\x00a", "ba", "y", "xy", "yx", "ab" + "c", strings.Repeat("q", 300)}
		var stream []byte
		var want []string
		for _, b := range bodies {
			out, err := frame.Append(stream, []byte(b), []byte(term), 1<<20)
			if err != nil {
				continue // refused: it cannot be framed with term
			}
			stream = out
			want = append(want, b)
		}
		for _, rd := range readers {
			got, err := readAll(frame.NewReader(bufio.NewReaderSize(rd.wrap(bytes.NewReader(stream)), 16), []byte(term), 1<<20))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: Next() on Append's frames split on %q mismatch (-want +got):\n%s", rd.name, term, diff)
			}
			if err != io.EOF {
				t.Errorf("%s: Next() at the end = %v, want io.EOF", rd.name, err)
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// endless is an io.Reader of n bytes of 'x' followed by more, made as it is
// read, so a test can stream far more than it holds.
type endless struct {
	n    int
	more string
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		if e.more == "" {
			return 0, io.EOF
		}
		n := copy(p, e.more)
		e.more = e.more[n:]
		return n, nil
	}
	n := min(len(p), e.n)
	for i := range n {
		p[i] = 'x'
	}
	e.n -= n
	return n, nil
}

// allocated returns the bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReaderNextTooLargeIsSkippedInBoundedMemory(t *testing.T) {
	const limit = 1 << 20
	const size = 64 << 20 // 64 times the limit
	r := frame.NewReader(bufio.NewReaderSize(&endless{n: size, more: "\nnext\n"}, 64<<10), []byte("\n"), limit)
	var err error
	alloc := allocated(func() { _, err = r.Next() })
	var tl *shared.FrameTooLargeError
	if !errors.As(err, &tl) || tl.Size != size || tl.Limit != limit {
		t.Fatalf("Next() on a %d-byte frame with limit %d = %v, want a FrameTooLargeError of %d bytes", size, limit, err, size)
	}
	// Up to the limit the frame is buffered, growing by doubling: at most
	// twice the limit in all.
	if alloc > 3*limit {
		t.Errorf("Next() on a %d-byte frame with limit %d allocated %d bytes, want at most %d", size, limit, alloc, 3*limit)
	}
	if b, err := r.Next(); string(b) != "next" || err != nil {
		t.Errorf("Next() after the frame too large = %q, %v, want \"next\", nil", b, err)
	}
}

func TestReadRawGrowsAsBytesArrive(t *testing.T) {
	const announced = 256 << 20
	r := frame.NewReader(bufio.NewReaderSize(strings.NewReader("hdr\nonly a few bytes"), 4096), []byte("\n"), 100)
	r.Next()
	var err error
	alloc := allocated(func() { _, err = r.ReadRaw(announced) })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadRaw(%d) of 16 bytes = %v, want io.ErrUnexpectedEOF", announced, err)
	}
	if alloc > 2<<20 {
		t.Errorf("ReadRaw(%d) of a 16-byte body allocated %d bytes, want at most 2 MiB", announced, alloc)
	}

	// A body larger than the first buffer arrives whole.
	const big = 5<<20 + 3
	r = frame.NewReader(bufio.NewReaderSize(&endless{n: big}, 4096), []byte("\n"), 100)
	b, err := r.ReadRaw(big)
	if err != nil || len(b) != big || strings.Trim(string(b), "x") != "" {
		t.Errorf("ReadRaw(%d) = %d bytes, %v, want %d bytes of x, nil", big, len(b), err, big)
	}
}

func TestDiscardRaw(t *testing.T) {
	in := "hdr\n" + strings.Repeat("r", 5000) + "next\n"
	for _, rd := range readers {
		r := frame.NewReader(bufio.NewReaderSize(rd.wrap(strings.NewReader(in)), 16), []byte("\n"), 100)
		r.Next()
		if err := r.DiscardRaw(5000); err != nil {
			t.Errorf("%s: DiscardRaw(5000) = %v, want nil", rd.name, err)
		}
		if b, err := r.Next(); string(b) != "next" || err != nil {
			t.Errorf("%s: Next() after DiscardRaw = %q, %v, want \"next\", nil", rd.name, b, err)
		}
		if err := r.DiscardRaw(1); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: DiscardRaw(1) at the end = %v, want io.ErrUnexpectedEOF", rd.name, err)
		}
	}
}

func TestReadRawStall(t *testing.T) {
	for _, discard := range []bool{false, true} {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() { b.Write([]byte("hdr\n0123456789")) }() // then nothing
		r := frame.NewReader(bufio.NewReaderSize(a, 4096), []byte("\n"), 100)
		r.SetStallTimeout(50*time.Millisecond, a.SetReadDeadline)
		r.Next()
		var err error
		if discard {
			err = r.DiscardRaw(1 << 30)
		} else {
			_, err = r.ReadRaw(1 << 30)
		}
		want := "peer stopped sending in the middle of a raw payload: 10 of 1073741824 bytes arrived, then none for 50ms"
		if !errors.Is(err, shared.ErrBodyStalled) || err.Error() != want {
			t.Errorf("ReadRaw/DiscardRaw (discard %v) of a body that stalls = %v, want %q", discard, err, want)
		}
	}
}
