package workload

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/iwproto"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/peers"
)

// The pool workloads measure host.Pool, which only isolated-workers has:
// go-plugin has no pools (a crashed plugin stays dead until its host starts
// it again), so its columns are n/a.

// poolConfig is a pool of size iw bench workers (and spares), quiet, whose
// events go to events (nil: none).
func poolConfig(w *peers.Workers, size, spares int, events chan<- host.PoolEvent) host.PoolConfig {
	cfg := host.PoolConfig{
		Worker: host.Config{
			Handshake: iwproto.Handshake,
			Name:      "iw-pool",
			Logger:    hclog.New(&hclog.LoggerOptions{Name: "iw-pool", Level: hclog.Off, Output: io.Discard}),
		},
		NewCmd: func() *exec.Cmd { return w.IWCommand() },
		Size:   size,
		Spares: spares,
	}
	if events != nil {
		cfg.OnEvent = func(ev host.PoolEvent) { events <- ev }
	}
	return cfg
}

// CrashToReplacement kills (SIGKILL) a ready worker of a pool of 2 (with
// spares warm spares) kills times, one after another, and returns each
// kill's time to a worker serving in its place: the replacement's
// EventWorkerStarted without a spare, the spare's EventWorkerPromoted with
// one. Every kill is a first restart of its slot (RestartReset is a
// nanosecond), so no backoff is measured; before each kill the pool is
// full again (the new spare included).
func CrashToReplacement(ctx context.Context, w *peers.Workers, spares, kills int) ([]time.Duration, error) {
	events := make(chan host.PoolEvent, 64)
	cfg := poolConfig(w, 2, spares, events)
	cfg.MaxRestarts = -1
	cfg.RestartReset = time.Nanosecond
	p, err := host.NewPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	// wait returns the time of the next event of kind with ReasonCrash.
	wait := func(kind host.PoolEventKind) (time.Time, error) {
		for {
			select {
			case ev := <-events:
				if ev.Kind == kind && ev.Reason == host.ReasonCrash {
					return ev.Time, nil
				}
				if ev.Kind == host.EventWorkerStartFailed || ev.Kind == host.EventPoolFailed {
					return time.Time{}, fmt.Errorf("pool: %v: %w", ev.Kind, ev.Err)
				}
			case <-ctx.Done():
				return time.Time{}, fmt.Errorf("waiting for %v: %w", kind, ctx.Err())
			}
		}
	}
	ds := make([]time.Duration, 0, kills)
	for range kills {
		var victim host.PoolWorker
		for _, pw := range p.Workers() {
			if pw.State == host.WorkerReady {
				victim = pw
				break
			}
		}
		if victim.PID == 0 {
			return nil, fmt.Errorf("pool: no ready worker to kill")
		}
		t0 := time.Now()
		if err := killPID(victim.PID); err != nil {
			return nil, err
		}
		want := host.EventWorkerStarted
		if spares > 0 {
			want = host.EventWorkerPromoted
		}
		served, err := wait(want)
		if err != nil {
			return nil, err
		}
		ds = append(ds, served.Sub(t0))
		if spares > 0 {
			// The new spare: the pool is full again.
			if _, err := wait(host.EventWorkerStarted); err != nil {
				return nil, err
			}
		}
	}
	if _, err := host.Call(ctx, p, iwproto.Ping, Payload); err != nil {
		return nil, fmt.Errorf("pool: call after the kills: %w", err)
	}
	return ds, nil
}

// IdlePool starts a pool of n workers, pings each once, and returns the
// time NewPool took (all n started in parallel and serving) and their
// total resident memory.
func IdlePool(ctx context.Context, w *peers.Workers, n int) (time.Duration, int64, error) {
	t0 := time.Now()
	p, err := host.NewPool(ctx, poolConfig(w, n, 0, nil))
	if err != nil {
		return 0, 0, err
	}
	start := time.Since(t0)
	defer p.Close()
	for range n {
		if _, err := host.Call(ctx, p, iwproto.Ping, Payload); err != nil {
			return 0, 0, fmt.Errorf("pool: %w", err)
		}
	}
	var total int64
	for _, pw := range p.Workers() {
		rss, err := RSS(pw.PID)
		if err != nil {
			return 0, 0, err
		}
		total += rss
	}
	return start, total, nil
}

func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
