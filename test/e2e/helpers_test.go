package e2e

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// config returns a host config for the test worker with args, logging
// into a sink at debug level.
func config(t *testing.T, args ...string) (host.Config, *logSink) {
	t.Helper()
	sink := &logSink{}
	return host.Config{
		Cmd:       exec.Command(bins["testworker"], args...),
		Handshake: testproto.Handshake,
		Name:      "testworker",
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "test", Level: hclog.Debug, JSONFormat: true, Output: sink,
		}),
		LogLevel: hclog.Debug,
	}, sink
}

// start launches a worker and closes it when the test ends.
func start(t *testing.T, cfg host.Config) *host.Worker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := host.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// startArgs launches the test worker with args.
func startArgs(t *testing.T, args ...string) (*host.Worker, *logSink) {
	t.Helper()
	cfg, sink := config(t, args...)
	return start(t, cfg), sink
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventsTo makes cfg's OnEvent send every event of definition def to the
// returned channel, which holds up to n of them.
func eventsTo[T any](cfg *host.Config, def shared.EventDef[T], n int) <-chan T {
	ch := make(chan T, n)
	cfg.OnEvent = func(ev host.ReceivedEvent) {
		if v, ok, _ := host.DecodeEvent(ev, def); ok {
			ch <- v
		}
	}
	return ch
}
