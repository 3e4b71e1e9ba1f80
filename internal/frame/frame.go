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
	"slices"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Reader reads frames split on a terminator.
type Reader struct {
	br   *bufio.Reader
	term []byte
	last byte
	max  int
	acc  []byte
	win  []byte // the last bytes of a frame being skipped

	stall       time.Duration
	setDeadline func(time.Time) error
	deadlineSet bool // a stall deadline is set on the stream
}

// NewReader returns a Reader over br splitting on term and refusing frames
// longer than max bytes (terminator excluded).
func NewReader(br *bufio.Reader, term []byte, max int) *Reader {
	return &Reader{br: br, term: term, last: term[len(term)-1], max: max}
}

// SetStallTimeout makes ReadRaw and DiscardRaw fail with an error wrapping
// shared.ErrBodyStalled when no byte of a raw body arrives for d.
// setReadDeadline sets the read deadline of the stream under the reader.
// After a stall the stream is in the middle of a body: it can no longer be
// read in step.
func (r *Reader) SetStallTimeout(d time.Duration, setReadDeadline func(time.Time) error) {
	r.stall, r.setDeadline = d, setReadDeadline
}

// Next returns the next frame without its terminator. The bytes are valid
// only until the next call. At a clean end of stream it returns io.EOF; a
// stream that ends inside a frame returns io.ErrUnexpectedEOF.
//
// A frame over the limit is read up to its terminator and dropped, without
// being held in memory: Next returns a *shared.FrameTooLargeError with its
// exact size (it wraps shared.ErrFrameTooLarge), and the next call returns
// the frame after it. The frame buffer grows as bytes arrive and never
// beyond the limit plus the terminator.
func (r *Reader) Next() ([]byte, error) {
	r.acc = r.acc[:0]
	limit := r.max + len(r.term)
	for {
		chunk, err := r.br.ReadSlice(r.last)
		if err == nil && len(r.acc) == 0 && bytes.HasSuffix(chunk, r.term) {
			if n := len(chunk) - len(r.term); n > r.max {
				return nil, r.tooLarge(n)
			}
			return chunk[:len(chunk)-len(r.term)], nil // fast path: no copy
		}
		if len(r.acc)+len(chunk) > limit {
			// Too large however it ends: skip the rest of it.
			r.win = appendTail(append(r.win[:0], tail(r.acc, len(r.term))...), chunk, len(r.term))
			return nil, r.skip(len(r.acc)+len(chunk), err)
		}
		r.acc = appendCapped(r.acc, chunk, limit)
		if err == nil && bytes.HasSuffix(r.acc, r.term) {
			return r.acc[:len(r.acc)-len(r.term)], nil
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

// skip reads and drops the rest of a frame of which seen bytes were read
// (the last of them in r.win) and err is the error of the last read.
func (r *Reader) skip(seen int, err error) error {
	for {
		if err == nil && bytes.HasSuffix(r.win, r.term) {
			return r.tooLarge(seen - len(r.term))
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return io.ErrUnexpectedEOF
		default:
			return err
		}
		var chunk []byte
		chunk, err = r.br.ReadSlice(r.last)
		seen += len(chunk)
		r.win = appendTail(r.win, chunk, len(r.term))
	}
}

// tail returns the last n bytes of b, or b.
func tail(b []byte, n int) []byte {
	return b[max(0, len(b)-n):]
}

// appendTail appends b to win and keeps the last n bytes.
func appendTail(win, b []byte, n int) []byte {
	win = append(win, tail(b, n)...)
	if k := len(win) - n; k > 0 {
		win = append(win[:0], win[k:]...)
	}
	return win
}

// appendCapped appends b to acc, doubling acc's capacity when it must grow
// but never past limit (len(acc)+len(b) must be at most limit): a frame
// near the limit costs about twice its size in allocations, and a buffer
// never outgrows the limit.
func appendCapped(acc, b []byte, limit int) []byte {
	if need := len(acc) + len(b); need > cap(acc) {
		grown := make([]byte, len(acc), min(max(2*cap(acc), need, 512), limit))
		copy(grown, acc)
		acc = grown
	}
	return append(acc, b...)
}

func (r *Reader) tooLarge(n int) error {
	return &shared.FrameTooLargeError{Size: n, Limit: r.max}
}

// rawStart is the most ReadRaw allocates before any byte of a raw body has
// arrived: the buffer starts at this size (or the body's, if smaller) and
// doubles as it fills, so a peer that announces a large body and sends less
// costs the reader about twice what it sent, not what it announced.
const rawStart = 1 << 20

// ReadRaw reads exactly n raw bytes into a new slice (n must already be
// checked against the caller's limit). The slice grows as the bytes arrive.
func (r *Reader) ReadRaw(n int) ([]byte, error) {
	b := make([]byte, 0, min(n, rawStart))
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), n-len(b)))
		}
		m, err := r.read(b[len(b):min(cap(b), n)])
		b = b[:len(b)+m]
		if err != nil {
			return nil, r.rawErr(err, len(b), n)
		}
	}
	r.clearDeadline()
	return b, nil
}

// DiscardRaw reads and drops n raw bytes, holding none of them.
func (r *Reader) DiscardRaw(n int) error {
	for done := 0; done < n; {
		r.armDeadline()
		m, err := r.br.Discard(min(n-done, r.br.Size()))
		done += m
		if err != nil {
			return r.rawErr(err, done, n)
		}
	}
	r.clearDeadline()
	return nil
}

// read reads into p, with the stall deadline when one is set. Bytes
// already buffered need none: a small body that came with its header sets
// no deadline.
func (r *Reader) read(p []byte) (int, error) {
	if r.br.Buffered() == 0 {
		r.armDeadline()
	}
	return r.br.Read(p)
}

// armDeadline sets the stall deadline from now, if there is a stall
// timeout.
func (r *Reader) armDeadline() {
	if r.stall > 0 {
		r.setDeadline(time.Now().Add(r.stall))
		r.deadlineSet = true
	}
}

func (r *Reader) clearDeadline() {
	if r.deadlineSet {
		r.setDeadline(time.Time{})
		r.deadlineSet = false
	}
}

// rawErr names a read error in the middle of a raw body of n bytes, of
// which got arrived.
func (r *Reader) rawErr(err error, got, n int) error {
	r.clearDeadline()
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	case r.stall > 0 && errors.As(err, &te) && te.Timeout():
		return fmt.Errorf("%w: %d of %d bytes arrived, then none for %v", shared.ErrBodyStalled, got, n, r.stall)
	}
	return err
}

// Append appends body and term to dst after checking that body does not
// contain term and is at most max bytes (else the error is a
// *shared.FrameTooLargeError).
func Append(dst, body, term []byte, max int) ([]byte, error) {
	if len(body) > max {
		return dst, &shared.FrameTooLargeError{Size: len(body), Limit: max}
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
