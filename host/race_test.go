package host_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/plugin/plugintest"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

var (
	raceHandshake = handshake.Config{MagicCookieKey: "IW_RACE_TEST", MagicCookieValue: "race"}
	racePing      = shared.NewMessage[string, string]("ping")
)

// hostGoroutines returns the stacks of goroutines running the host's
// connection readers and writers.
func hostGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		// A goroutine only in goRead's wrapper has finished its work and
		// told Close so; it is on its way out.
		if strings.Contains(g, "isolated-workers-go/host.(*conn).read") || strings.Contains(g, "internal/wire.(*Sender).Run") {
			out = append(out, g)
		}
	}
	return out
}

// TestCloseRacesReconnect runs Close and Reconnect concurrently on a
// disconnected keep-alive worker, many times (IW_RACE_ROUNDS, default
// 1000). Reconnect must either connect before Close or give up with
// ErrWorkerClosed, and once Close returns no goroutine of the host's
// connection may be left: a reader started by a Reconnect that Close did
// not wait for would be one.
func TestCloseRacesReconnect(t *testing.T) {
	rounds := 1000
	if n, err := strconv.Atoi(os.Getenv("IW_RACE_ROUNDS")); err == nil {
		rounds = n
	}
	wcfg := plugin.Config{
		Handshake:          raceHandshake,
		DisconnectBehavior: plugin.KeepAlive,
		Handlers:           plugin.Handlers(plugin.Handle(racePing, func(ctx context.Context, s string) (string, error) { return s, nil })),
	}
	hcfg := host.Config{
		Handshake: raceHandshake,
		Logger:    hclog.NewNullLogger(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var (
		mu                sync.Mutex
		connected, closed int
	)
	round := func(i int) bool {
		pw, err := plugintest.Start(ctx, wcfg, hcfg)
		if err != nil {
			t.Errorf("round %d: Start: %v", i, err)
			return false
		}
		defer pw.Close()
		w := pw.Worker
		if i%2 == 0 {
			// Half the rounds race from a dropped connection, half from a
			// live one that Reconnect finds connected.
			if err := w.Disconnect(); err != nil {
				t.Errorf("round %d: Disconnect: %v", i, err)
				return false
			}
		}
		var wg sync.WaitGroup
		var reconnErr, closeErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			reconnErr = w.Reconnect(ctx)
		}()
		go func() {
			defer wg.Done()
			closeErr = w.Close()
		}()
		wg.Wait()
		mu.Lock()
		switch {
		case reconnErr == nil:
			connected++
		case errors.Is(reconnErr, host.ErrWorkerClosed):
			closed++
		default:
			t.Errorf("round %d: Reconnect racing Close = %v, want nil or ErrWorkerClosed", i, reconnErr)
		}
		mu.Unlock()
		if closeErr != nil {
			t.Errorf("round %d: Close = %v", i, closeErr)
		}
		if w.IsConnected() {
			t.Errorf("round %d: IsConnected after Close = true", i)
		}
		if _, err := host.Call(ctx, w, racePing, "x"); !errors.Is(err, host.ErrWorkerClosed) {
			t.Errorf("round %d: Call after Close = %v, want ErrWorkerClosed", i, err)
		}
		return !t.Failed()
	}
	// A few lanes at once: more interleavings, and the rounds share the
	// CPUs. Every lane's Close has returned when the lanes end; goroutines
	// of a connection installed behind Close's back would still run then.
	const lanes = 4
	var lanesWG sync.WaitGroup
	for l := range lanes {
		lanesWG.Add(1)
		go func() {
			defer lanesWG.Done()
			for i := l; i < rounds; i += lanes {
				if !round(i) {
					return
				}
			}
		}()
	}
	lanesWG.Wait()
	if g := hostGoroutines(); len(g) > 0 {
		t.Errorf("%d connection goroutines outlive Close:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	t.Logf("%d rounds: Reconnect won %d, Close won %d", rounds, connected, closed)
}
