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

// item is one result of Next: a frame, or the size of a frame too large.
type item struct {
	frame    []byte
	tooLarge int
}

// split is the model Next must agree with: frames end at the first
// occurrence of term; a frame over max is skipped and reported with its
// size, and splitting goes on after it; a tail with no terminator is an
// unexpected end, an empty tail the clean end.
func split(data, term []byte, max int) (items []item, final error) {
	for consumed := 0; ; {
		rest := data[consumed:]
		i := bytes.Index(rest, term)
		switch {
		case i < 0 && len(rest) == 0:
			return items, io.EOF
		case i < 0:
			return items, io.ErrUnexpectedEOF
		case i > max:
			items = append(items, item{tooLarge: i})
		default:
			items = append(items, item{frame: rest[:i]})
		}
		consumed += i + len(term)
	}
}

// pieceReader wraps data the way mode picks: whole, a byte at a time, half
// of each read, or io.EOF with the last data; in a bufio.Reader of 16 to
// 128 bytes, so frames outgrow the buffer.
func pieceReader(data []byte, mode uint8) *bufio.Reader {
	var r io.Reader = bytes.NewReader(data)
	switch mode % 4 {
	case 1:
		r = iotest.OneByteReader(r)
	case 2:
		r = iotest.HalfReader(r)
	case 3:
		r = iotest.DataErrReader(r)
	}
	return bufio.NewReaderSize(r, 16<<(mode/4%4))
}

// readItems calls Next until an error other than a frame too large.
func readItems(t *testing.T, fr *frame.Reader, term []byte, max, bound int) ([]item, error) {
	var got []item
	for len(got) <= bound { // every frame consumes at least its terminator
		b, err := fr.Next()
		var tl *shared.FrameTooLargeError
		switch {
		case errors.As(err, &tl):
			if !errors.Is(err, shared.ErrFrameTooLarge) || tl.Size <= max || tl.Limit != max {
				t.Fatalf("Next() = %v (size %d, limit %d), want an ErrFrameTooLarge over the limit %d", err, tl.Size, tl.Limit, max)
			}
			got = append(got, item{tooLarge: tl.Size})
			continue
		case err != nil:
			return got, err
		}
		if bytes.Contains(b, term) {
			t.Fatalf("Next() = %q, which contains the terminator %q", b, term)
		}
		if len(b) > max {
			t.Fatalf("Next() = %d bytes, over the limit %d", len(b), max)
		}
		got = append(got, item{frame: bytes.Clone(b)})
	}
	t.Fatalf("Next() returned more than %d frames", bound)
	return nil, nil
}

var itemCmp = cmp.Options{cmp.AllowUnexported(item{}), cmp.Comparer(bytes.Equal)}

// FuzzFrameReader splits random bytes on random terminators through
// readers that deliver them in pieces. Next never panics, returns exactly
// the model's frames and too-large sizes (so frames never contain the
// terminator, never exceed max, and a frame too large is skipped to its
// end), and ends with the model's error.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("a\nbc\n\n{}\n"), []byte("\n"), uint16(64), uint8(0))
	f.Add([]byte("a\x00b\x00\x00\x00\x00c\x00\x00\x00"), []byte("\x00\x00"), uint16(3), uint8(1))
	f.Add([]byte("xabababay"), []byte("aba"), uint16(10), uint8(2))
	f.Add([]byte("1xyy2xyxyy"), []byte("xyy"), uint16(1), uint8(3))
	f.Add(bytes.Repeat([]byte("0123456789"), 50), []byte("\r\n"), uint16(100), uint8(7))
	f.Add([]byte("12345\n123456\n"), []byte("\n"), uint16(5), uint8(4))
	f.Add([]byte("abcd\r\r\nok\r\n"), []byte("\r\n"), uint16(3), uint8(5))
	f.Add([]byte(""), []byte("\n"), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, data, term []byte, max uint16, mode uint8) {
		// Long inputs add nothing that frames of up to 128-byte buffers
		// do not show, and slow the fuzzer's quadratic minimization.
		if len(term) == 0 || len(term) > 8 || len(data) > 1<<10 {
			return
		}
		fr := frame.NewReader(pieceReader(data, mode), term, int(max))
		want, wantErr := split(data, term, int(max))
		got, err := readItems(t, fr, term, int(max), len(data))
		if diff := cmp.Diff(want, got, itemCmp); diff != "" {
			t.Fatalf("Next() frames of %q split on %q, max %d, mismatch (-want +got):\n%s", data, term, max, diff)
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("Next() after %d frames of %q split on %q, max %d = %v, want %v", len(got), data, term, max, err, wantErr)
		}
		// What Append accepts for these frames must split back the same.
		var stream []byte
		for _, it := range got {
			if it.frame == nil && it.tooLarge > 0 {
				continue
			}
			if stream, err = frame.Append(stream, it.frame, term, int(max)); err != nil {
				t.Fatalf("Append(%q) of a frame Next returned = %v", it.frame, err)
			}
		}
	})
}

// FuzzFrameResync writes frames with Append and reads them back with a
// smaller limit: every frame comes back, or, when over the limit, a
// FrameTooLargeError with its exact size; after a frame too large the next
// frame read is exactly the next frame written.
func FuzzFrameResync(f *testing.F) {
	f.Add([]byte("short|a long frame over the limit|next|x"), []byte("\n"), uint16(5), uint8(0))
	f.Add([]byte("0123456789abcdef0123456789|ok||another long one|z"), []byte("\x00\x00"), uint16(3), uint8(1))
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|b"), []byte("\r\n\r\n"), uint16(8), uint8(6))
	f.Fuzz(func(t *testing.T, data, term []byte, max uint16, mode uint8) {
		if len(term) == 0 || len(term) > 8 || len(data) > 1<<10 {
			return
		}
		var stream []byte
		var want []item
		for _, p := range bytes.Split(data, []byte("|")) {
			out, err := frame.Append(stream, p, term, 1<<20)
			if err != nil {
				continue // holds the terminator: cannot be framed
			}
			stream = out
			if len(p) > int(max) {
				want = append(want, item{tooLarge: len(p)})
			} else {
				want = append(want, item{frame: p})
			}
		}
		fr := frame.NewReader(pieceReader(stream, mode), term, int(max))
		got, err := readItems(t, fr, term, int(max), len(stream))
		if diff := cmp.Diff(want, got, itemCmp); diff != "" {
			t.Fatalf("Next() on Append's frames %q split on %q, max %d, mismatch (-want +got):\n%s", stream, term, max, diff)
		}
		if err != io.EOF {
			t.Fatalf("Next() at the end of %q = %v, want io.EOF", stream, err)
		}
	})
}
