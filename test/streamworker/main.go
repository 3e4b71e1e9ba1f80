// Command streamworker is the worker the end-to-end tests of streams
// launch (test/e2e/stream_test.go): it serves the streams of
// test/testproto/stream.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"

	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

func main() {
	maxFrame := flag.Int("max-frame", 0, "MaxFrameSize (0: default)")
	maxRaw := flag.Int("max-raw", 0, "MaxRawSize (0: default)")
	serializer := flag.String("serializer", "json", "json or msgpack")
	flag.Parse()
	ended := &endings{m: map[string]chan testproto.StreamEnd{}}
	cfg := plugin.Config{
		Handshake:    testproto.StreamHandshake,
		MaxFrameSize: *maxFrame,
		MaxRawSize:   *maxRaw,
		Handlers: plugin.Handlers(
			plugin.HandleStream(testproto.Count, count),
			plugin.HandleStream(testproto.Bytes, sendBytes),
			plugin.HandleStream(testproto.Forever, ended.forever),
			plugin.Handle(testproto.StreamEnded, ended.wait),
			plugin.Handle(testproto.StreamPing, func(ctx context.Context, s string) (string, error) { return "pong:" + s, nil }),
		),
	}
	if *serializer == "msgpack" {
		cfg.Serializer = shared.MsgPack{}
	}
	plugin.Serve(cfg)
}

func count(ctx context.Context, req testproto.CountReq, send func(testproto.CountItem) error) error {
	pad := make([]byte, req.Pad)
	for i := range pad {
		pad[i] = 'p'
	}
	for i := range req.N {
		if req.FailAt > 0 && i == req.FailAt {
			return faults.Businessf("count failed at item %d", i)
		}
		if req.PanicAt > 0 && i == req.PanicAt {
			panic(fmt.Sprintf("count panicked at item %d", i))
		}
		if req.Emit {
			if err := plugin.Emit(ctx, testproto.StreamTick, i); err != nil {
				return err
			}
		}
		if err := send(testproto.CountItem{I: i, Pad: string(pad)}); err != nil {
			return err
		}
	}
	return nil
}

// sendBytes sends req.Total bytes, byte i being byte(i % 251), in chunks.
func sendBytes(ctx context.Context, req testproto.BytesReq, send func([]byte) error) error {
	if req.Chunk <= 0 {
		return errors.New("chunk size must be positive")
	}
	pattern := make([]byte, req.Chunk+251)
	for i := range pattern {
		pattern[i] = byte(i % 251)
	}
	var off int64
	for off < req.Total {
		n := min(int64(req.Chunk), req.Total-off)
		b := make([]byte, n) // a fresh chunk per item, as a real producer makes
		copy(b, pattern[off%251:])
		if err := send(b); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// endings records how Forever streams ended, by name.
type endings struct {
	mu sync.Mutex
	m  map[string]chan testproto.StreamEnd
}

func (e *endings) ch(name string) chan testproto.StreamEnd {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.m[name]
	if !ok {
		c = make(chan testproto.StreamEnd, 1)
		e.m[name] = c
	}
	return c
}

func (e *endings) forever(ctx context.Context, name string, send func(int) error) error {
	for i := 0; ; i++ {
		if err := send(i); err != nil {
			e.ch(name) <- testproto.StreamEnd{Cause: fmt.Sprint(context.Cause(ctx)), SendErr: err.Error(), Sent: i}
			return err
		}
	}
}

func (e *endings) wait(ctx context.Context, name string) (testproto.StreamEnd, error) {
	select {
	case end := <-e.ch(name):
		return end, nil
	case <-ctx.Done():
		return testproto.StreamEnd{}, fmt.Errorf("stream %q did not end: %w", name, ctx.Err())
	}
}
