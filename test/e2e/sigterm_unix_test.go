//go:build unix

package e2e

// Windows has no SIGTERM (a host stops a worker on its control stream
// there), so this test is built for Unix only.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// TestSIGTERMWithStuckHandler: a worker asked to stop by SIGTERM while a
// handler ignores its context exits non-zero after its StopGrace, naming
// the handler; the host's pending call gets that exit.
func TestSIGTERMWithStuckHandler(t *testing.T) {
	cfg, _ := config(t, "-stop-grace", "200ms")
	helpers := eventsTo(&cfg, testproto.HelperStarted, 1)
	w := start(t, cfg)
	errc := make(chan error, 1)
	go func() {
		_, err := host.Call(context.Background(), w, testproto.Stuck, "")
		errc <- err
	}()
	helper := <-helpers
	if err := proc.Terminate(w.PID()); err != nil {
		t.Fatalf("SIGTERM to the worker: %v", err)
	}
	err := <-errc
	var ee *host.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Call(stuck) = %v, want a *host.ExitError", err)
	}
	if ee.ExitCode != plugin.ExitStuckHandlers {
		t.Errorf("worker exit status = %d, want %d (ExitStuckHandlers): %v", ee.ExitCode, plugin.ExitStuckHandlers, ee)
	}
	if want := `"stuck" (txid `; !strings.Contains(ee.Stderr, want) {
		t.Errorf("worker's stderr tail = %q, want it to name the stuck handler (%s...)", ee.Stderr, want)
	}
	if !waitGone(helper, 5*time.Second) {
		t.Errorf("helper %d still runs after the worker exited", helper)
	}
}
