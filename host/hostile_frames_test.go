package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// frameHostileWorker is a hand-written worker in this process: it does the
// handshake as a worker does, then answers every request on the calls
// stream with what reply writes, so a test can send what a real worker
// never would.
type frameHostileWorker struct {
	rc    ReattachConfig
	wg    sync.WaitGroup
	codec *wire.Codec
	seen  chan wire.Header // the headers of what the host sent that is not a request
}

func startFrameHostileWorker(t *testing.T, reply func(w io.Writer, h wire.Header)) *frameHostileWorker {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hw := &frameHostileWorker{
		rc: ReattachConfig{Name: "hostile", SocketPath: sock, PID: os.Getpid(), ProtocolVersion: 1,
			Serializer: "json", AuthToken: "token"},
		codec: wire.NewCodec(shared.JSON{}, 1<<20, 1<<30, nil),
		seen:  make(chan wire.Header, 16),
	}
	hw.wg.Add(1)
	go func() {
		defer hw.wg.Done()
		defer ln.Close()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		ymx, err := yamux.Server(wire.FrameConn(nc), wire.YamuxConfig())
		if err != nil {
			nc.Close()
			return
		}
		defer ymx.Close()
		for {
			st, err := ymx.AcceptStream()
			if err != nil {
				return
			}
			hw.wg.Add(1)
			go func() {
				defer hw.wg.Done()
				hw.serveStream(ymx, st, reply)
			}()
		}
	}()
	t.Cleanup(hw.wg.Wait)
	return hw
}

func (hw *frameHostileWorker) serveStream(ymx *yamux.Session, st *yamux.Stream, reply func(io.Writer, wire.Header)) {
	defer st.Close()
	br := bufio.NewReader(st)
	name, err := wire.ReadStreamName(st, br, 5*time.Second)
	if err != nil {
		return
	}
	switch name {
	case wire.StreamControl:
		var hh handshakewire.HostHello
		if handshakewire.ReadHello(br, &hh) != nil {
			return
		}
		handshakewire.WriteHello(st, handshakewire.WorkerHello{ProtocolVersion: hh.ProtocolVersion, Serializer: hh.Serializer,
			Fingerprint: hh.Fingerprint, PID: os.Getpid(), DisconnectBehavior: handshakewire.BehaviorKeepAlive})
		for {
			var m handshakewire.Control
			if handshakewire.ReadHello(br, &m) != nil || m.Op == handshakewire.OpShutdown {
				ymx.Close()
				return
			}
		}
	case wire.StreamCalls:
		r := frameReaderFor(br, hw.codec)
		for {
			h, _, err := hw.codec.Read(r)
			if err != nil {
				return
			}
			if h.Kind == shared.KindRequest {
				reply(st, h)
				continue
			}
			select {
			case hw.seen <- h:
			default:
			}
		}
	default:
		io.Copy(io.Discard, br)
	}
}

// writeReply writes a reply header for h's call announcing a body, then
// the body bytes given (maybe fewer than announced).
func writeReply(w io.Writer, h wire.Header, body wire.Body, rawLen int, bodyBytes string) {
	hdr := `{"v":1,"k":2,"t":"` + h.Type + `","id":"` + h.ID + `","b":` + strconv.Itoa(int(body)) + `,"n":` + strconv.Itoa(rawLen) + "}\n"
	io.WriteString(w, hdr+bodyBytes)
}

func attachFrameHostile(t *testing.T, hw *frameHostileWorker, cfg Config) *Worker {
	t.Helper()
	cfg.Handshake = testHandshake
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := Attach(ctx, hw.rc, cfg)
	if err != nil {
		t.Fatalf("Attach(hostile worker) = %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

var blob = shared.NewMessage[[]byte, []byte]("blob")

// TestHostileRawAnnouncementIsNotAllocated: a worker announces a raw result
// of 256 MiB and sends 10 bytes. The host allocates as the bytes arrive,
// not what was announced, and the call fails with ErrBodyStalled once the
// body stalls, instead of hanging.
func TestHostileRawAnnouncementIsNotAllocated(t *testing.T) {
	defer func(d time.Duration) { rawStallTimeout = d }(rawStallTimeout)
	rawStallTimeout = 200 * time.Millisecond
	const announced = 256 << 20
	hw := startFrameHostileWorker(t, func(w io.Writer, h wire.Header) {
		writeReply(w, h, wire.BodyRaw, announced, "0123456789")
	})
	w := attachFrameHostile(t, hw, Config{})

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Call(context.Background(), w, blob, []byte("x"))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, shared.ErrBodyStalled) {
		t.Fatalf("Call whose raw reply stalls = %v, want an error matching shared.ErrBodyStalled", err)
	}
	want := `call "blob" on worker "hostile": reply from worker "hostile": result "blob": peer stopped sending in the middle of a raw payload: 10 of 268435456 bytes arrived, then none for 200ms`
	if err.Error() != want {
		t.Errorf("Call whose raw reply stalls = %q, want %q", err, want)
	}
	t.Logf("the call allocated %d bytes in all", after.TotalAlloc-before.TotalAlloc)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Call whose reply announced %d raw bytes allocated %d bytes, want at most 16 MiB", announced, alloc)
	}
}

// TestHostileOversizeRawIsSkipped: a raw result over the host's MaxRawSize
// fails that call alone; the host skips its bytes without keeping them and
// reads the next reply.
func TestHostileOversizeRawIsSkipped(t *testing.T) {
	const size = 32 << 20
	hw := startFrameHostileWorker(t, func(w io.Writer, h wire.Header) {
		if h.ID == "big" {
			writeReply(w, h, wire.BodyRaw, size, "")
			chunk := bytes.Repeat([]byte("r"), 64<<10)
			for range size / len(chunk) {
				w.Write(chunk)
			}
			return
		}
		writeReply(w, h, wire.BodyRaw, 2, "ok")
	})
	ids := make(chan string, 2)
	ids <- "big"
	ids <- "small"
	w := attachFrameHostile(t, hw, Config{MaxRawSize: 1 << 20, TxIDGenerator: func(*shared.AnyMessage) string { return <-ids }})

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Call(context.Background(), w, blob, []byte("x"))
	runtime.ReadMemStats(&after)
	var tl *shared.FrameTooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, shared.ErrFrameTooLarge) || tl.Size != size || tl.Owner != "host" || tl.LimitName != "MaxRawSize" {
		t.Fatalf("Call whose raw reply is %d bytes over the host's MaxRawSize = %v, want a FrameTooLargeError naming both", size, err)
	}
	want := `call "blob" on worker "hostile": reply from worker "hostile": raw result of 33554432 bytes exceeds the host's MaxRawSize 1048576`
	if err.Error() != want {
		t.Errorf("Call = %q, want %q", err, want)
	}
	// yamux buffers part of its stream window while the reader skips;
	// the reader itself keeps nothing.
	t.Logf("the call allocated %d bytes in all", after.TotalAlloc-before.TotalAlloc)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size {
		t.Errorf("skipping a %d-byte raw reply allocated %d bytes, want well under its size", size, alloc)
	}
	if got, err := Call(context.Background(), w, blob, []byte("x")); err != nil || string(got) != "ok" {
		t.Errorf("Call after the oversize reply = %q, %v, want \"ok\", nil", got, err)
	}
}

func frameReaderFor(br *bufio.Reader, c *wire.Codec) *frame.Reader {
	return frame.NewReader(br, c.Terminator(), c.MaxFrame())
}

// TestHostileOversizeReplyHeader: a reply header over the host's
// MaxFrameSize names no call the host can fail alone, and what follows it
// cannot be trusted: the connection ends, and the pending call's error
// matches both ErrConnectionLost and shared.ErrFrameTooLarge.
func TestHostileOversizeReplyHeader(t *testing.T) {
	hw := startFrameHostileWorker(t, func(w io.Writer, h wire.Header) {
		io.WriteString(w, `{"v":1,"k":2,"t":"`+strings.Repeat("t", 8<<10)+`"}`+"\n")
	})
	w := attachFrameHostile(t, hw, Config{MaxFrameSize: 4096})
	_, err := Call(context.Background(), w, blob, []byte("x"))
	if !errors.Is(err, ErrConnectionLost) || !errors.Is(err, shared.ErrFrameTooLarge) {
		t.Fatalf("Call whose reply header is over the host's MaxFrameSize = %v, want an error matching ErrConnectionLost and ErrFrameTooLarge", err)
	}
	if !strings.Contains(err.Error(), "header of 8212 bytes exceeds the host's MaxFrameSize 4096") {
		t.Errorf("Call = %q, want it to name both sizes", err)
	}
}
