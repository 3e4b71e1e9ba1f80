package wire

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeRecorder is a net.Conn that records the boundaries of the writes
// it receives; FrameConn's only job is to change them.
type writeRecorder struct {
	net.Conn
	writes [][]byte
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

// yamuxHeader returns a yamux frame header of type typ announcing length.
func yamuxHeader(typ byte, length uint32) []byte {
	h := make([]byte, yamuxHeaderSize)
	h[1] = typ
	binary.BigEndian.PutUint32(h[4:8], 1) // stream id
	binary.BigEndian.PutUint32(h[8:12], length)
	return h
}

func TestFrameConn(t *testing.T) {
	small := []byte("payload")
	large := bytes.Repeat([]byte("L"), 64<<10)
	const windowUpdate, ping = 1, 2
	tests := []struct {
		name   string
		writes [][]byte
		want   [][]byte
		ns     []int // what each Write returns
	}{
		{
			name:   "data header and body in one write",
			writes: [][]byte{yamuxHeader(yamuxTypeData, 7), small},
			want:   [][]byte{append(yamuxHeader(yamuxTypeData, 7), small...)},
			ns:     []int{12, 7},
		},
		{
			name:   "window update goes out at once",
			writes: [][]byte{yamuxHeader(windowUpdate, 4096)},
			want:   [][]byte{yamuxHeader(windowUpdate, 4096)},
			ns:     []int{12},
		},
		{
			name:   "ping goes out at once",
			writes: [][]byte{yamuxHeader(ping, 0)},
			want:   [][]byte{yamuxHeader(ping, 0)},
			ns:     []int{12},
		},
		{
			name:   "empty data frame (FIN, RST) goes out at once",
			writes: [][]byte{yamuxHeader(yamuxTypeData, 0)},
			want:   [][]byte{yamuxHeader(yamuxTypeData, 0)},
			ns:     []int{12},
		},
		{
			name:   "large body: two writes",
			writes: [][]byte{yamuxHeader(yamuxTypeData, uint32(len(large))), large},
			want:   [][]byte{yamuxHeader(yamuxTypeData, uint32(len(large))), large},
			ns:     []int{12, len(large)},
		},
		{
			name: "frames in a row",
			writes: [][]byte{
				yamuxHeader(yamuxTypeData, 7), small,
				yamuxHeader(windowUpdate, 1),
				yamuxHeader(yamuxTypeData, 7), small,
			},
			want: [][]byte{
				append(yamuxHeader(yamuxTypeData, 7), small...),
				yamuxHeader(windowUpdate, 1),
				append(yamuxHeader(yamuxTypeData, 7), small...),
			},
			ns: []int{12, 7, 12, 12, 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &writeRecorder{}
			c := FrameConn(rec)
			var ns []int
			for _, p := range tt.writes {
				n, err := c.Write(p)
				if err != nil {
					t.Fatalf("Write(%d bytes) = %v", len(p), err)
				}
				ns = append(ns, n)
			}
			if diff := cmp.Diff(tt.want, rec.writes); diff != "" {
				t.Errorf("writes reaching the connection mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ns, ns); diff != "" {
				t.Errorf("Write() counts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFrameConnLargeBodyOverUnixSocket: a data frame whose body is too
// large to copy arrives whole, header first, over a real Unix socket
// (written with one writev there), and Write reports the body's length.
func TestFrameConnLargeBodyOverUnixSocket(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	conn, err := net.Dial("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	c := FrameConn(conn)
	body := bytes.Repeat([]byte("0123456789abcdef"), 20<<10) // 320 KiB
	hdr := yamuxHeader(yamuxTypeData, uint32(len(body)))
	if n, err := c.Write(hdr); n != yamuxHeaderSize || err != nil {
		t.Fatalf("Write(header) = %d, %v", n, err)
	}
	if n, err := c.Write(body); n != len(body) || err != nil {
		t.Fatalf("Write(body) = %d, %v; want %d, nil", n, err, len(body))
	}
	conn.Close()
	if want := append(bytes.Clone(hdr), body...); !bytes.Equal(<-got, want) {
		t.Error("the socket did not carry the header and then the body")
	}
}
