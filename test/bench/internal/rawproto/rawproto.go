// Package rawproto is the raw Unix-socket floor's wire format: a request is
// a 4-byte big-endian length n, an op byte and n-1 payload bytes; a reply is
// a 4-byte length and the payload. Replies come in request order, so a
// pipelined client matches them first in, first out. It imports only the
// standard library: the raw worker is as small as a Go worker gets.
package rawproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Ops.
const (
	OpPing byte = 1
	OpEcho byte = 2
)

// SocketEnv names the variable that carries the socket path to the worker.
// The worker prints ReadyLine on stdout once it listens.
const (
	SocketEnv = "RAW_BENCH_SOCKET"
	ReadyLine = "ready"
)

// SmallWrite is the largest payload a raw peer copies into one write with
// its header; a larger one goes out as header and body.
const SmallWrite = 64 << 10

// MaxFrame bounds one frame.
const MaxFrame = 64 << 20

// ErrFrameTooLarge is returned for a length over MaxFrame.
var ErrFrameTooLarge = errors.New("rawproto: frame too large")

// AppendRequest appends a request header (length and op) for a payload of n
// bytes; the payload follows it on the wire.
func AppendRequest(dst []byte, op byte, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(n+1))
	return append(dst, op)
}

// AppendReply appends a reply header for a payload of n bytes.
func AppendReply(dst []byte, n int) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// ReadLen reads a 4-byte length.
func ReadLen(r io.Reader) (int, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint32(b[:]))
	if n > MaxFrame {
		return 0, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	return n, nil
}
