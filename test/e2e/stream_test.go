package e2e

import (
	"errors"
	"os"
	"os/exec"
	"testing"

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
