package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// streamConfig returns a host config for the stream test worker.
func streamConfig(t *testing.T, args ...string) host.Config {
	t.Helper()
	return host.Config{
		Cmd:       exec.Command(bins["streamworker"], args...),
		Handshake: testproto.StreamHandshake,
		Name:      "streamworker",
		Logger:    hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: os.Stderr}),
	}
}

// collect ranges over a stream and returns its items and its error.
func collect[T any](seq func(func(T, error) bool)) ([]T, error) {
	var items []T
	for it, err := range seq {
		if err != nil {
			return items, err
		}
		items = append(items, it)
	}
	return items, nil
}

// Items arrive in order and the stream ends without an error; the worker
// serves calls beside it; each sequence is consumed once.
func TestStreamItemsInOrder(t *testing.T) {
	for _, ser := range []string{"json", "msgpack"} {
		t.Run(ser, func(t *testing.T) {
			cfg := streamConfig(t)
			if ser == "msgpack" {
				cfg.Serializer = shared.MsgPack{}
				cfg.Cmd.Args = append(cfg.Cmd.Args, "-serializer", "msgpack")
			}
			w := start(t, cfg)
			ctx := ctxT(t)
			const n = 5000
			seq := host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: n, Pad: 100})
			items, err := collect(seq)
			if err != nil {
				t.Fatalf("Stream(Count, %d) failed after %d items: %v", n, len(items), err)
			}
			if len(items) != n {
				t.Fatalf("Stream(Count, %d) gave %d items, want %d", n, len(items), n)
			}
			for i, it := range items {
				if it.I != i || len(it.Pad) != 100 {
					t.Fatalf("item %d = {I: %d, len(Pad): %d}, want {I: %d, len(Pad): 100}", i, it.I, len(it.Pad), i)
				}
			}
			if _, err := collect(seq); !errors.Is(err, host.ErrStreamConsumed) {
				t.Errorf("ranging over the same stream again: error %v, want ErrStreamConsumed", err)
			}
			if got, err := host.Call(ctx, w, testproto.StreamPing, "x"); err != nil || got != "pong:x" {
				t.Errorf("Call(StreamPing) after the stream = %q, %v; want pong:x", got, err)
			}
		})
	}
}

// A handler's error ends the stream after the items it sent, as the
// RemoteError a call would get; so does a panic, and the worker serves on.
func TestStreamHandlerError(t *testing.T) {
	w := start(t, streamConfig(t))
	ctx := ctxT(t)
	for _, tc := range []struct {
		name      string
		req       testproto.CountReq
		wantCode  string
		wantClass string
	}{
		{"error", testproto.CountReq{N: 100, FailAt: 10}, shared.CodeHandler, "business"},
		{"panic", testproto.CountReq{N: 100, PanicAt: 10}, shared.CodePanic, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := collect(host.Stream(ctx, w, testproto.Count, tc.req))
			var re *shared.RemoteError
			if !errors.As(err, &re) || re.Code != tc.wantCode || (tc.wantClass != "" && re.Class != tc.wantClass) {
				t.Fatalf("Stream(Count, %+v) error = %v, want a RemoteError with code %q class %q", tc.req, err, tc.wantCode, tc.wantClass)
			}
			if len(items) != 10 {
				t.Errorf("Stream(Count, %+v) gave %d items before its error, want 10", tc.req, len(items))
			}
		})
	}
	if got, err := host.Call(ctx, w, testproto.StreamPing, "x"); err != nil || got != "pong:x" {
		t.Errorf("Call(StreamPing) after failed streams = %q, %v; want pong:x", got, err)
	}
}

// Stopping the range early, or cancelling its context, cancels the
// handler's context at once: its send fails and it returns.
func TestStreamCancelReachesHandler(t *testing.T) {
	w := start(t, streamConfig(t))
	ctx := ctxT(t)
	for _, how := range []string{"break", "cancel"} {
		t.Run(how, func(t *testing.T) {
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			got := 0
			var last error
			for i, err := range host.Stream(sctx, w, testproto.Forever, how) {
				if err != nil {
					last = err
					break
				}
				if i != got {
					t.Fatalf("item %d = %d", got, i)
				}
				got++
				if got == 3 {
					if how == "break" {
						break
					}
					cancel()
				}
			}
			switch how {
			case "break":
				if last != nil || got != 3 {
					t.Fatalf("after break: %d items, error %v; want 3, nil", got, last)
				}
			case "cancel":
				if !errors.Is(last, context.Canceled) {
					t.Fatalf("after cancel: error %v, want context.Canceled", last)
				}
			}
			end, err := host.Call(ctx, w, testproto.StreamEnded, how)
			if err != nil {
				t.Fatalf("Call(StreamEnded, %q): %v", how, err)
			}
			if !strings.Contains(end.Cause, "stream cancelled by the host") || end.SendErr == "" {
				t.Errorf("handler's end = %+v, want its context cancelled by the host and send failing", end)
			}
		})
	}
}

// A stream's context deadline is its handler's.
func TestStreamDeadline(t *testing.T) {
	w := start(t, streamConfig(t))
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	_, err := collect(host.Stream(ctx, w, testproto.Forever, "deadline"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stream past its deadline: error %v, want context.DeadlineExceeded", err)
	}
	end, err := host.Call(ctxT(t), w, testproto.StreamEnded, "deadline")
	if err != nil {
		t.Fatalf("Call(StreamEnded): %v", err)
	}
	if end.SendErr == "" || !(strings.Contains(end.Cause, "deadline exceeded") || strings.Contains(end.Cause, "cancelled by the host")) {
		t.Errorf("handler's end = %+v, want its context ended by the deadline (or the host's cancel at it)", end)
	}
}

// A worker that dies mid-stream ends the range at once with its exit, as
// a call gets it.
func TestStreamWorkerKilled(t *testing.T) {
	w := start(t, streamConfig(t))
	ctx := ctxT(t)
	got := 0
	var last error
	for _, err := range host.Stream(ctx, w, testproto.Forever, "killed") {
		if err != nil {
			last = err
			break
		}
		got++
		if got == 3 {
			p, _ := os.FindProcess(w.PID())
			if err := p.Kill(); err != nil {
				t.Fatalf("kill the worker: %v", err)
			}
		}
	}
	var ee *host.ExitError
	if !errors.As(last, &ee) || ctx.Err() != nil {
		t.Fatalf("stream whose worker was killed: error %v after %d items, want an *host.ExitError (context: %v)", last, got, ctx.Err())
	}
	if _, err := collect(host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: 1})); err == nil {
		t.Error("a stream on a dead worker succeeded")
	}
}

// Streams and messages have one namespace: a stream the worker does not
// serve, a message ranged as a stream and a stream called as a message are
// each refused with code unknown_message.
func TestStreamUnknown(t *testing.T) {
	w := start(t, streamConfig(t))
	ctx := ctxT(t)
	check := func(what string, err error) {
		t.Helper()
		var re *shared.RemoteError
		if !errors.As(err, &re) || re.Code != shared.CodeUnknownMessage {
			t.Errorf("%s: error %v, want a RemoteError with code %q", what, err, shared.CodeUnknownMessage)
		}
	}
	_, err := collect(host.Stream(ctx, w, testproto.NoSuchStream, "x"))
	check("Stream(NoSuchStream)", err)
	_, err = collect(host.Stream(ctx, w, testproto.PingAsStream, "x"))
	check("Stream of a message", err)
	_, err = host.Call(ctx, w, testproto.CountAsMessage, testproto.CountReq{N: 1})
	check("Call of a stream", err)
}

// Frame limits hold both ways: a request over the worker's limit is
// refused before it is sent; an item over the worker's limit fails the
// handler's send; an item over the host's limit ends the range. Each
// error matches shared.ErrFrameTooLarge and the worker serves on.
func TestStreamFrameLimits(t *testing.T) {
	ctx := ctxT(t)
	t.Run("worker's limits", func(t *testing.T) {
		w := start(t, streamConfig(t, "-max-frame", "4096", "-max-raw", "4096"))
		_, err := collect(host.Stream(ctx, w, testproto.Forever, strings.Repeat("r", 8000)))
		var tl *shared.FrameTooLargeError
		if !errors.As(err, &tl) || tl.Owner != "worker" {
			t.Errorf("Stream with a request over the worker's MaxFrameSize: error %v, want a FrameTooLargeError naming the worker's limit", err)
		}
		items, err := collect(host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: 3, Pad: 8000}))
		if !errors.Is(err, shared.ErrFrameTooLarge) || len(items) != 0 {
			t.Errorf("Stream with items over the worker's MaxFrameSize: %d items, error %v; want 0 and ErrFrameTooLarge", len(items), err)
		}
		chunks, err := collect(host.Stream(ctx, w, testproto.Bytes, testproto.BytesReq{Total: 10000, Chunk: 5000}))
		if !errors.Is(err, shared.ErrFrameTooLarge) || len(chunks) != 0 {
			t.Errorf("Stream with raw items over the worker's MaxRawSize: %d items, error %v; want 0 and ErrFrameTooLarge", len(chunks), err)
		}
		if _, err := collect(host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: 3, Pad: 100})); err != nil {
			t.Errorf("Stream within the limits after refusals: %v", err)
		}
	})
	t.Run("host's limits", func(t *testing.T) {
		cfg := streamConfig(t)
		cfg.MaxFrameSize, cfg.MaxRawSize = 4096, 4096
		w := start(t, cfg)
		items, err := collect(host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: 3, Pad: 8000}))
		var tl *shared.FrameTooLargeError
		if !errors.As(err, &tl) || tl.Owner != "host" || len(items) != 0 {
			t.Errorf("Stream with items over the host's MaxFrameSize: %d items, error %v; want 0 and a FrameTooLargeError naming the host's limit", len(items), err)
		}
		chunks, err := collect(host.Stream(ctx, w, testproto.Bytes, testproto.BytesReq{Total: 10000, Chunk: 5000}))
		if !errors.As(err, &tl) || tl.Owner != "host" || len(chunks) != 0 {
			t.Errorf("Stream with raw items over the host's MaxRawSize: %d items, error %v; want 0 and a FrameTooLargeError naming the host's limit", len(chunks), err)
		}
		if got, err := host.Call(ctx, w, testproto.StreamPing, "x"); err != nil || got != "pong:x" {
			t.Errorf("Call(StreamPing) after refused items = %q, %v; want pong:x", got, err)
		}
	})
}

// Events the handler emitted before it returned reach OnEvent before the
// range ends, even when they arrive after the stream's end: here OnEvent
// holds the first event until the range has taken the last item, and
// each event takes some work.
func TestStreamEventsBeforeEnd(t *testing.T) {
	const n = 50
	cfg := streamConfig(t)
	lastItem := make(chan struct{})
	var delivered atomic.Int32
	work := make([]byte, 1<<20)
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if _, ok, _ := host.DecodeEvent(ev, testproto.StreamTick); !ok {
			return
		}
		if delivered.Load() == 0 {
			<-lastItem
		}
		// Real work per event: delivering them all takes much longer than
		// reading the stream's end, which is already there.
		sha256.Sum256(work)
		delivered.Add(1)
	}
	w := start(t, cfg)
	got := 0
	for it, err := range host.Stream(ctxT(t), w, testproto.Count, testproto.CountReq{N: n, Emit: true}) {
		if err != nil {
			t.Fatalf("Stream(Count) with events: %v", err)
		}
		got++
		if it.I == n-1 {
			close(lastItem)
		}
	}
	if d := delivered.Load(); got != n || d != n {
		t.Errorf("the range ended with %d items and %d events delivered, want %d and %d", got, d, n, n)
	}
}

// Middleware sees a stream's request go out and its end come in once, also
// when the range stops early; items pass no middleware.
func TestStreamMiddleware(t *testing.T) {
	cfg := streamConfig(t)
	var out, in atomic.Int32
	var ends []shared.Kind
	cfg.Middleware = []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir == shared.Outgoing {
			out.Add(1)
		} else {
			in.Add(1)
			ends = append(ends, msg.Kind)
		}
		return nil
	}}
	w := start(t, cfg)
	ctx := ctxT(t)
	if _, err := collect(host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: 10})); err != nil {
		t.Fatalf("Stream(Count): %v", err)
	}
	for range host.Stream(ctx, w, testproto.Forever, "mw") {
		break
	}
	collect(host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: 10, FailAt: 2}))
	want := []shared.Kind{shared.KindResult, shared.KindResult, shared.KindError}
	if out.Load() != 3 || in.Load() != 3 || fmt.Sprint(ends) != fmt.Sprint(want) {
		t.Errorf("middleware saw %d requests and %d ends %v, want 3 and 3 %v", out.Load(), in.Load(), ends, want)
	}
}

// Many streams at once on one worker, beside calls: each gets its items in
// order, and the worker lists its streams among its messages.
func TestStreamConcurrent(t *testing.T) {
	w := start(t, streamConfig(t))
	if !slices.Contains(w.Messages(), testproto.Count.Name()) {
		t.Errorf("worker's messages %v do not list the stream %q", w.Messages(), testproto.Count.Name())
	}
	ctx := ctxT(t)
	const streams, n = 64, 200
	errs := make(chan error, streams+1)
	var wg sync.WaitGroup
	for s := range streams {
		wg.Go(func() {
			got := 0
			for it, err := range host.Stream(ctx, w, testproto.Count, testproto.CountReq{N: n}) {
				if err != nil {
					errs <- fmt.Errorf("stream %d after %d items: %w", s, got, err)
					return
				}
				if it.I != got {
					errs <- fmt.Errorf("stream %d: item %d is %d", s, got, it.I)
					return
				}
				got++
			}
			if got != n {
				errs <- fmt.Errorf("stream %d: %d items, want %d", s, got, n)
			}
		})
	}
	wg.Go(func() {
		if _, err := host.Call(ctx, w, testproto.StreamPing, "x"); err != nil {
			errs <- fmt.Errorf("Call(StreamPing) beside the streams: %w", err)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A panic in the range's body ends the stream on both sides, and Shutdown
// does not wait for it.
func TestStreamPanicInLoopBody(t *testing.T) {
	w := start(t, streamConfig(t))
	ctx := ctxT(t)
	func() {
		defer func() {
			if r := recover(); r != "stop" {
				t.Fatalf("recovered %v, want the loop body's panic", r)
			}
		}()
		for range host.Stream(ctx, w, testproto.Forever, "panic") {
			panic("stop")
		}
	}()
	end, err := host.Call(ctx, w, testproto.StreamEnded, "panic")
	if err != nil || !strings.Contains(end.Cause, "stream cancelled by the host") {
		t.Errorf("Call(StreamEnded) = %+v, %v; want the handler cancelled by the host", end, err)
	}
	if err := w.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after the panic: %v", err)
	}
}
