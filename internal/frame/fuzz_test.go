package frame_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// split is the model Next must agree with: frames end at the first
// occurrence of term; a frame over max, or a tail with no terminator that
// is already over max plus the terminator, is too large; any other tail is
// an unexpected end.
func split(data, term []byte, max int) (frames [][]byte, consumed int, final error) {
	for {
		rest := data[consumed:]
		i := bytes.Index(rest, term)
		switch {
		case i > max, i < 0 && len(rest) > max+len(term):
			return frames, consumed, shared.ErrFrameTooLarge
		case i < 0 && len(rest) == 0:
			return frames, consumed, io.EOF
		case i < 0:
			return frames, consumed, io.ErrUnexpectedEOF
		}
		frames = append(frames, rest[:i])
		consumed += i + len(term)
	}
}

// FuzzFrameReader splits random bytes on random terminators through
// readers that deliver them in pieces. Next never panics, returns exactly
// the model's frames (so frames never contain the terminator, never exceed
// max, and together with their terminators are a prefix of the input), and
// ends with the model's error.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("a\nbc\n\n{}\n"), []byte("\n"), uint16(64), uint8(0))
	f.Add([]byte("a\x00b\x00\x00\x00\x00c\x00\x00\x00"), []byte("\x00\x00"), uint16(3), uint8(1))
	f.Add([]byte("xabababay"), []byte("aba"), uint16(10), uint8(2))
	f.Add([]byte("1xyy2xyxyy"), []byte("xyy"), uint16(1), uint8(3))
	f.Add(bytes.Repeat([]byte("0123456789"), 50), []byte("\r\n"), uint16(100), uint8(7))
	f.Add([]byte("12345\n123456\n"), []byte("\n"), uint16(5), uint8(4))
	f.Add([]byte(""), []byte("\n"), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, data, term []byte, max uint16, mode uint8) {
		// Long inputs add nothing that frames of up to 128-byte buffers
		// do not show, and slow the fuzzer's quadratic minimization.
		if len(term) == 0 || len(term) > 8 || len(data) > 1<<10 {
			return
		}
		var r io.Reader = bytes.NewReader(data)
		switch mode % 4 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		case 3:
			r = iotest.DataErrReader(r)
		}
		size := 16 << (mode / 4 % 4) // 16 to 128 bytes: frames outgrow the buffer
		fr := frame.NewReader(bufio.NewReaderSize(r, size), term, int(max))

		want, _, wantErr := split(data, term, int(max))
		var got [][]byte
		var err error
		for len(got) <= len(data) { // every frame consumes at least its terminator
			var b []byte
			if b, err = fr.Next(); err != nil {
				break
			}
			if bytes.Contains(b, term) {
				t.Fatalf("Next() = %q, which contains the terminator %q", b, term)
			}
			if len(b) > int(max) {
				t.Fatalf("Next() = %d bytes, over the limit %d", len(b), max)
			}
			got = append(got, bytes.Clone(b))
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(bytes.Equal)); diff != "" {
			t.Fatalf("Next() frames of %q split on %q, max %d, mismatch (-want +got):\n%s", data, term, max, diff)
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("Next() after %d frames of %q split on %q, max %d = %v, want %v", len(got), data, term, max, err, wantErr)
		}
		// What Append accepts for these frames must split back the same.
		var stream []byte
		for _, b := range got {
			if stream, err = frame.Append(stream, b, term, int(max)); err != nil {
				t.Fatalf("Append(%q) of a frame Next returned = %v", b, err)
			}
		}
		if !bytes.HasPrefix(data, stream) {
			t.Fatalf("frames and terminators %q are not a prefix of the input %q", stream, data)
		}
	})
}
