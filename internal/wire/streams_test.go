package wire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func TestStreamName(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	go WriteStreamName(a, StreamCalls)
	br := bufio.NewReader(b)
	name, err := ReadStreamName(b, br, 10*time.Second)
	if name != "calls" || err != nil {
		t.Errorf("ReadStreamName() = %q, %v, want \"calls\", nil", name, err)
	}
}

func TestStreamNameTimeout(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	_, err := ReadStreamName(b, bufio.NewReader(b), 10*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadStreamName(silent peer) = %v, want os.ErrDeadlineExceeded", err)
	}
	if err == nil || err.Error() != "read stream name: read pipe: i/o timeout" {
		t.Errorf("ReadStreamName(silent peer) = %v, want \"read stream name: read pipe: i/o timeout\"", err)
	}
}

// TestBulkStream sends messages with large raw payloads and small calls
// both ways over a real yamux session on a Unix socket, each session over
// FrameConn, as host and worker do: a Writer on each stream, a Codec
// reading each.
func TestBulkStream(t *testing.T) {
	client, server := yamuxPair(t)
	c := NewCodec(shared.JSON{}, 1<<20, 4<<20, nil)
	payload := bytes.Repeat([]byte("\x00\n|raw"), 1<<18) // 1.5 MiB, terminators included
	if len(payload) < LargeThreshold {
		t.Fatalf("payload of %d bytes is under LargeThreshold %d", len(payload), LargeThreshold)
	}

	type result struct {
		ids []string
		err error
	}
	// The host opens the stream and names it; the worker accepts it.
	hostSt, err := client.OpenStream()
	if err != nil {
		t.Fatalf("OpenStream() = %v", err)
	}
	if err := WriteStreamName(hostSt, StreamBulk); err != nil {
		t.Fatalf("WriteStreamName() = %v", err)
	}
	workerSt, err := server.AcceptStream()
	if err != nil {
		t.Fatalf("AcceptStream() = %v", err)
	}
	br := bufio.NewReaderSize(workerSt, 64<<10)
	if name, err := ReadStreamName(workerSt, br, 10*time.Second); name != StreamBulk || err != nil {
		t.Fatalf("ReadStreamName() = %q, %v, want %q, nil", name, err, StreamBulk)
	}

	const n = 5
	read := func(r *frame.Reader) result {
		var res result
		for range n {
			h, body, err := c.Read(r)
			if err != nil {
				res.err = err
				return res
			}
			if !bytes.Equal(body, payload) {
				res.err = fmt.Errorf("message %s: body of %d bytes differs from the payload", h.ID, len(body))
				return res
			}
			res.ids = append(res.ids, h.ID)
		}
		return res
	}
	send := func(w *Sender, kind shared.Kind) error {
		for i := range n {
			h := Header{Version: 1, Kind: kind, Type: "blob", ID: fmt.Sprint(i)}
			out, raw, err := c.Encode(nil, &h, payload)
			if err != nil {
				return err
			}
			if err := w.Write(context.Background(), out, raw); err != nil {
				return err
			}
		}
		return nil
	}
	atWorker := make(chan result, 1)
	atHost := make(chan result, 1)
	go func() { atWorker <- read(frame.NewReader(br, c.Terminator(), c.MaxFrame())) }()
	go func() {
		atHost <- read(frame.NewReader(bufio.NewReaderSize(hostSt, 64<<10), c.Terminator(), c.MaxFrame()))
	}()
	errs := make(chan error, 2)
	hostW := NewSender(hostSt, MaxQueued, client.CloseChan())
	workerW := NewSender(workerSt, MaxQueued, server.CloseChan())
	var running sync.WaitGroup
	running.Go(hostW.Run)
	running.Go(workerW.Run)
	t.Cleanup(func() { client.Close(); server.Close(); running.Wait() })
	go func() { errs <- send(hostW, shared.KindRequest) }()
	go func() { errs <- send(workerW, shared.KindResult) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("send = %v", err)
		}
	}
	want := []string{"0", "1", "2", "3", "4"}
	for side, ch := range map[string]chan result{"worker": atWorker, "host": atHost} {
		res := <-ch
		if res.err != nil || fmt.Sprint(res.ids) != fmt.Sprint(want) {
			t.Errorf("%s read %v, %v, want %v, nil", side, res.ids, res.err, want)
		}
	}
	hostSt.Close()
	workerSt.Close()
}

func TestYamuxConfig(t *testing.T) {
	c := YamuxConfig()
	if err := yamux.VerifyConfig(c); err != nil {
		t.Fatalf("VerifyConfig(YamuxConfig()) = %v", err)
	}
	if c.MaxStreamWindowSize != 16<<20 || c.AcceptBacklog != 1024 || c.EnableKeepAlive || c.ConnectionWriteTimeout != NoWriteTimeout {
		t.Errorf("YamuxConfig() = window %d, backlog %d, keep-alive %v, write timeout %v; want 16 MiB, 1024, false, NoWriteTimeout",
			c.MaxStreamWindowSize, c.AcceptBacklog, c.EnableKeepAlive, c.ConnectionWriteTimeout)
	}
}

// yamuxPair returns a client (host) and server (worker) session over a
// Unix socket pair; both are closed at the end of the test.
func yamuxPair(t *testing.T) (client, server *yamux.Session) {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("unix", dir+"/s")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatalf("accept failed")
	}
	client, err = yamux.Client(FrameConn(cc), YamuxConfig())
	if err != nil {
		t.Fatalf("yamux.Client: %v", err)
	}
	server, err = yamux.Server(FrameConn(sc), YamuxConfig())
	if err != nil {
		t.Fatalf("yamux.Server: %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}
