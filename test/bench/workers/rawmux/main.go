// Command rawmux is the multiplexed raw Unix-socket floor: like the raw
// worker, but the one connection carries a yamux session (the multiplexer
// isolated-workers uses, with its settings), and every stream the host
// opens answers length-prefixed frames (see rawproto) in lock-step on its
// own goroutine, flushing its replies when no more requests are buffered.
// No envelope, no serializer, no call table: what yamux itself costs. It exits when its host's session closes, or when no host
// connects within 10 s.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/trace"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/iwproto"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/rawproto"
)

func main() {
	os.Exit(serve1())
}

// serve1 serves one host, with an execution trace when
// IW_BENCH_WORKER_TRACE names a file (as the iw worker does).
func serve1() int {
	if tr := os.Getenv(iwproto.TraceEnv); tr != "" {
		f, err := os.Create(tr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rawmux worker:", err)
			return 1
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			fmt.Fprintln(os.Stderr, "rawmux worker:", err)
			return 1
		}
		defer trace.Stop()
	}
	path := os.Getenv(rawproto.SocketEnv)
	if path == "" {
		fmt.Fprintf(os.Stderr, "%s is a benchmark worker, started by its host\n", os.Args[0])
		return 1
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawmux worker:", err)
		return 1
	}
	ln.SetUnlinkOnClose(true)
	fmt.Println(rawproto.ReadyLine)
	ln.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	ln.Close()
	if err != nil {
		return 0
	}
	sess, err := yamux.Server(c, rawproto.YamuxConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawmux worker:", err)
		return 1
	}
	for {
		st, err := sess.Accept()
		if err != nil {
			return 0 // the host closed the session
		}
		go serve(st)
	}
}

// serve answers the frames of one stream in order, as the raw worker does:
// replies are buffered and flushed when no more requests are buffered, so
// pipelined requests share writes (and yamux frames).
func serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	var buf []byte
	for {
		n, err := rawproto.ReadLen(br)
		if err != nil || n < 1 {
			return
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return
		}
		payload := buf[1:] // ping and echo both answer with the payload
		var hdr [4]byte
		bw.Write(rawproto.AppendReply(hdr[:0], len(payload)))
		bw.Write(payload)
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}
