package plugin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/plugin/plugintest"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// TestStopGraceNamesStuckHandlers: a worker asked to stop while a handler
// ignores its cancelled context returns after StopGrace with a
// *StuckHandlersError naming that handler, instead of waiting for it.
func TestStopGraceNamesStuckHandlers(t *testing.T) {
	hs := handshake.Config{MagicCookieKey: "IW_STOP_TEST", MagicCookieValue: "1"}
	stuck := shared.NewMessage[string, string]("stuck")
	started, release := make(chan struct{}), make(chan struct{})
	wcfg := plugin.Config{
		Handshake: hs,
		StopGrace: 100 * time.Millisecond,
		Handlers: plugin.Handlers(plugin.Handle(stuck, func(ctx context.Context, _ string) (string, error) {
			close(started)
			<-release // ignores ctx
			return "done", nil
		})),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := plugintest.Start(ctx, wcfg, host.Config{Handshake: hs, GracePeriod: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	go func() {
		_, err := host.Call(context.Background(), w.Worker, stuck, "")
		callErr <- err
	}()
	<-started
	err = w.Close()
	close(release)
	var se *plugin.StuckHandlersError
	if !errors.As(err, &se) {
		t.Fatalf("Close with a stuck handler = %v, want a *plugin.StuckHandlersError", err)
	}
	if len(se.Handlers) != 1 || se.Handlers[0].Type != "stuck" || se.Handlers[0].TxID == "" || se.Grace != wcfg.StopGrace {
		t.Errorf("StuckHandlersError = %+v, want the one handler \"stuck\" with its txid, grace %v", se, wcfg.StopGrace)
	}
	if err := <-callErr; !errors.Is(err, host.ErrWorkerClosed) {
		t.Errorf("Call(stuck) = %v, want ErrWorkerClosed", err)
	}
}
