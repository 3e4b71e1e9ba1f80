package plugintest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/plugin/plugintest"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	hs     = handshake.Config{MagicCookieKey: "K", MagicCookieValue: "V"}
	Double = shared.NewMessage[int, int]("double")
)

func TestInProcessWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := plugintest.Start(ctx, plugin.Config{
		Handshake: hs,
		Handlers: plugin.Handlers(plugin.Handle(Double, func(ctx context.Context, n int) (int, error) {
			if n < 0 {
				return 0, errors.New("negative input")
			}
			return 2 * n, nil
		})),
	}, host.Config{Handshake: hs})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got, err := host.Call(ctx, w.Worker, Double, 21); err != nil || got != 42 {
		t.Errorf("Call(Double, 21) = %d, %v, want 42, nil", got, err)
	}
	if _, err := host.Call(ctx, w.Worker, Double, -1); err == nil || !strings.Contains(err.Error(), "negative input") {
		t.Errorf("Call(Double, -1) = %v, want the handler's error", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestInProcessWorkerSerializerMismatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := plugintest.Start(ctx, plugin.Config{Handshake: hs}, host.Config{Handshake: hs, Serializer: shared.MsgPack{}})
	if err == nil || !strings.Contains(err.Error(), "serializer mismatch: host uses msgpack, worker uses json") {
		t.Errorf("Start = %v, want a serializer mismatch", err)
	}
}
