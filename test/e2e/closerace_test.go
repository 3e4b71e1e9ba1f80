package e2e

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// TestCloseRacesReconnectRealWorker races Close against Reconnect on real
// keep-alive worker processes (IW_E2E_RACE_ROUNDS, default 20; the
// in-process host test TestCloseRacesReconnect runs 1,000 rounds). Close
// must return with the process gone and Reconnect must either win or say
// ErrWorkerClosed; goleak in TestMain finds any reader left behind.
func TestCloseRacesReconnectRealWorker(t *testing.T) {
	rounds := 20
	if n, err := strconv.Atoi(os.Getenv("IW_E2E_RACE_ROUNDS")); err == nil {
		rounds = n
	}
	for i := range rounds {
		w, _ := startArgs(t, "-keepalive")
		if _, err := host.Call(ctxT(t), w, testproto.Ping, "x"); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := w.Disconnect(); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var reconnErr, closeErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			reconnErr = w.Reconnect(ctxT(t))
		}()
		go func() {
			defer wg.Done()
			closeErr = w.Close()
		}()
		wg.Wait()
		if reconnErr != nil && !errors.Is(reconnErr, host.ErrWorkerClosed) {
			t.Errorf("round %d: Reconnect racing Close = %v, want nil or ErrWorkerClosed", i, reconnErr)
		}
		if closeErr != nil {
			t.Errorf("round %d: Close = %v", i, closeErr)
		}
		select {
		case <-w.Exited():
		default:
			t.Errorf("round %d: worker process still running after Close", i)
		}
		if w.IsConnected() {
			t.Errorf("round %d: IsConnected after Close", i)
		}
	}
}
