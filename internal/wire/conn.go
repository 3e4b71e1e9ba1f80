package wire

import (
	"encoding/binary"
	"net"
)

// yamux frame header: version(1) type(1) flags(2) stream(4) length(4).
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
)

// frameConn halves the syscalls yamux makes: yamux's send loop writes a data
// frame's 12-byte header and its body with two separate Writes. frameConn
// holds a data header whose length says a body follows, and writes both with
// the body's Write. Every other Write (window updates, pings, go-away, empty
// data frames) goes out at once, so nothing is ever held back waiting. A
// large body goes out with its header in one writev, not copied.
//
// Only yamux's single send goroutine writes to it.
type frameConn struct {
	net.Conn
	buf  []byte
	held bool
}

// FrameConn wraps the connection a yamux session runs over.
func FrameConn(c net.Conn) net.Conn {
	return &frameConn{Conn: c, buf: make([]byte, 0, 64<<10)}
}

func (c *frameConn) Write(p []byte) (int, error) {
	if !c.held && len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:12]) > 0 {
		c.buf = append(c.buf[:0], p...)
		c.held = true
		return len(p), nil
	}
	if !c.held {
		return c.Conn.Write(p)
	}
	c.held = false
	if len(p) > cap(c.buf)-yamuxHeaderSize {
		// A large body: one writev (on a Unix or TCP connection; two
		// writes on others) costs less than copying it.
		bufs := net.Buffers{c.buf, p}
		n, err := bufs.WriteTo(c.Conn)
		return max(int(n)-yamuxHeaderSize, 0), err
	}
	c.buf = append(c.buf, p...)
	n, err := c.Conn.Write(c.buf)
	return max(n-yamuxHeaderSize, 0), err
}
