package e2e

import (
	"errors"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// inFlight returns the pool's workers' calls in flight, by pid.
func inFlight(p *host.Pool) map[int]int {
	out := map[int]int{}
	for _, w := range p.Workers() {
		out[w.PID] = w.InFlight
	}
	return out
}

// A stream on a pool runs on the least-loaded ready worker, which counts
// it in flight for the whole range; an early break gives the worker back;
// a worker killed mid-stream ends the range with its *ExitError (no
// retry) and the pool replaces it.
func TestStreamOnPool(t *testing.T) {
	ev := newPoolEvents()
	p := startPool(t, host.PoolConfig{Worker: streamConfig(t), Size: 2, OnEvent: ev.on})
	ctx := ctxT(t)

	items, err := collect(host.Stream(ctx, p, testproto.Count, testproto.CountReq{N: 1000}))
	if len(items) != 1000 || err != nil {
		t.Fatalf("Stream(pool, Count 1000) = %d items, %v; want 1000, nil", len(items), err)
	}
	for i, it := range items {
		if it.I != i {
			t.Fatalf("item %d = %d, want %d", i, it.I, i)
		}
	}

	// In flight while the range runs; back to idle once it stops.
	for it, err := range host.Stream(ctx, p, testproto.Forever, "pool-break") {
		if err != nil {
			t.Fatalf("Stream(pool, Forever) = %v after %d items", err, it)
		}
		if got := inFlight(p); len(got) != 2 || sum(got) != 1 {
			t.Errorf("calls in flight during a stream = %v, want 1 on one of the 2 workers", got)
		}
		break
	}
	if got := inFlight(p); sum(got) != 0 {
		t.Errorf("calls in flight after the range stopped = %v, want none", got)
	}

	// Killed mid-stream: the range ends with the *ExitError.
	var (
		killed int
		last   error
		n      int
	)
	for _, err := range host.Stream(ctx, p, testproto.Forever, "pool-crash") {
		if err != nil {
			last = err
			break
		}
		n++
		if killed == 0 {
			for pid, c := range inFlight(p) {
				if c == 1 {
					killed = pid
				}
			}
			// The other, idle worker takes a call meanwhile.
			if got, err := host.Call(ctx, p, testproto.StreamPing, "x"); got != "pong:x" || err != nil {
				t.Errorf("Call(pool, StreamPing) during a stream = %q, %v; want pong:x, nil", got, err)
			}
			if err := killPID(killed); err != nil {
				t.Fatalf("kill the streaming worker (pid %d): %v", killed, err)
			}
		}
	}
	var ee *host.ExitError
	if !errors.As(last, &ee) || ee.PID != killed {
		t.Fatalf("Stream(pool, Forever) whose worker (pid %d) was killed ended after %d items with %v; want its *ExitError", killed, n, last)
	}
	ev.wait(t, "the killed worker's replacement", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerStarted && e.Reason == host.ReasonCrash
	})
	if s := p.Stats(); s.Calls[host.OutcomeCrash] != 1 || s.CrashRetries != 0 {
		t.Errorf("Stats() = %+v, want 1 crashed stream and no crash retry", s)
	}
	items, err = collect(host.Stream(ctx, p, testproto.Count, testproto.CountReq{N: 10}))
	if len(items) != 10 || err != nil {
		t.Fatalf("Stream(pool, Count 10) after the crash = %d items, %v; want 10, nil", len(items), err)
	}
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// A worker of a pool calls its host (PoolConfig.Worker.Handlers), and the
// host's handler calls that worker back (host.CallingWorker).
func TestCallHostFromPoolWorker(t *testing.T) {
	cfg, _ := poolConfig(t, 2)
	cfg.Worker.Handlers = newHostSide().handlers()
	p := startPool(t, cfg)
	ctx := ctxT(t)
	for i := range 4 {
		got, err := host.Call(ctx, p, testproto.CallHost, testproto.HostReq{Op: "add", N: 41})
		if got != "42" || err != nil {
			t.Errorf("Call(pool, CallHost add 41) #%d = %q, %v; want %q, nil", i, got, err, "42")
		}
	}
	const want = "w3(h2(w1(h0)))"
	if got, err := host.Call(ctx, p, testproto.Nest, 3); got != want || err != nil {
		t.Errorf("Call(pool, Nest 3) = %q, %v; want %q, nil", got, err, want)
	}
}
