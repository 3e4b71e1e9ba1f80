// Command raw is the raw Unix-socket floor: a minimal Go worker that listens
// on the socket named by RAW_BENCH_SOCKET, prints "ready" on stdout, and
// answers length-prefixed frames (see rawproto) in order, flushing when no
// more requests are buffered. It exits when its host's connection closes, or
// when no host connects within 10 s.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/rawproto"
)

func main() {
	path := os.Getenv(rawproto.SocketEnv)
	if path == "" {
		fmt.Fprintf(os.Stderr, "%s is a benchmark worker, started by its host\n", os.Args[0])
		os.Exit(1)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "raw worker:", err)
		os.Exit(1)
	}
	ln.SetUnlinkOnClose(true)
	fmt.Println(rawproto.ReadyLine)
	ln.SetDeadline(time.Now().Add(10 * time.Second))
	events := make(chan int)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(events)
				return
			}
			ln.SetDeadline(time.Time{}) // a host is here: later dials wait as long as it likes
			events <- +1
			go func() {
				serve(c)
				events <- -1
			}()
		}
	}()
	// Exit when the last open connection ends, or when the first accept
	// times out.
	open := 0
	for d := range events {
		if open += d; open == 0 {
			break
		}
	}
	ln.Close()
	os.Exit(0)
}

func serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	var buf []byte
	for {
		n, err := rawproto.ReadLen(br)
		if err != nil {
			return
		}
		if n < 1 {
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
