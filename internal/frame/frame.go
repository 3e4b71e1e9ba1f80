// Package frame splits a byte stream into terminator-delimited frames and
// writes frames, refusing any frame whose body contains the terminator.
//
// A Reader is not safe for concurrent use; it belongs to the goroutine that
// reads its stream.
package frame

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Reader reads frames split on a terminator.
type Reader struct {
	br   *bufio.Reader
	term []byte
	last byte
	max  int
	acc  []byte
}

// NewReader returns a Reader over br splitting on term and refusing frames
// longer than max bytes (terminator excluded).
func NewReader(br *bufio.Reader, term []byte, max int) *Reader {
	return &Reader{br: br, term: term, last: term[len(term)-1], max: max}
}

// Next returns the next frame without its terminator. The bytes are valid
// only until the next call. At a clean end of stream it returns io.EOF; a
// stream that ends inside a frame returns io.ErrUnexpectedEOF.
func (r *Reader) Next() ([]byte, error) {
	r.acc = r.acc[:0]
	for {
		chunk, err := r.br.ReadSlice(r.last)
		if err == nil && len(r.acc) == 0 && bytes.HasSuffix(chunk, r.term) {
			if len(chunk)-len(r.term) > r.max {
				return nil, r.tooLarge(len(chunk) - len(r.term))
			}
			return chunk[:len(chunk)-len(r.term)], nil // fast path: no copy
		}
		r.acc = append(r.acc, chunk...)
		if err == nil && bytes.HasSuffix(r.acc, r.term) {
			if len(r.acc)-len(r.term) > r.max {
				return nil, r.tooLarge(len(r.acc) - len(r.term))
			}
			return r.acc[:len(r.acc)-len(r.term)], nil
		}
		if len(r.acc) > r.max+len(r.term) {
			return nil, r.tooLarge(len(r.acc))
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(r.acc) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

func (r *Reader) tooLarge(n int) error {
	return fmt.Errorf("%w: %d bytes or more, limit %d", shared.ErrFrameTooLarge, n, r.max)
}

// ReadRaw reads exactly n raw bytes into a new slice (n must already be
// checked against the caller's limit).
func (r *Reader) ReadRaw(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// Append appends body and term to dst after checking that body does not
// contain term and is at most max bytes.
func Append(dst, body, term []byte, max int) ([]byte, error) {
	if len(body) > max {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", shared.ErrFrameTooLarge, len(body), max)
	}
	start := len(dst)
	dst = append(dst, body...)
	dst = append(dst, term...)
	// The first terminator must be the one just appended; this also refuses
	// a body ending in part of a multi-byte terminator ("a\x00" + "\x00\x00").
	if i := bytes.Index(dst[start:], term); i != len(body) {
		return dst[:start], fmt.Errorf("%w (%q at byte %d): the serializer must escape it", shared.ErrTerminatorInFrame, term, i)
	}
	return dst, nil
}
