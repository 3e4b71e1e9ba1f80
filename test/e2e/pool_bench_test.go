package e2e

import (
	"context"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/proc"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// BenchmarkPoolCrashToReplacement measures the time from a SIGKILL of a
// pool's worker to a worker serving in its place (the replacement's
// EventWorkerStarted, or a spare's EventWorkerPromoted), without and with
// one warm spare. Reported as p50-ms and p99-ms.
//
//	go test ./test/e2e/ -run '^$' -bench PoolCrashToReplacement -benchtime 50x
func BenchmarkPoolCrashToReplacement(b *testing.B) {
	for _, spares := range []int{0, 1} {
		b.Run(map[int]string{0: "spares=0", 1: "spares=1"}[spares], func(b *testing.B) {
			served := make(chan time.Time, 64)
			cfg := host.PoolConfig{
				Worker: host.Config{Cmd: exec.Command(bins["testworker"]), Handshake: testproto.Handshake, Name: "bench"},
				Size:   2, Spares: spares,
				MaxRestarts:  -1,
				RestartReset: time.Nanosecond, // every kill is a first restart: no backoff
				OnEvent: func(ev host.PoolEvent) {
					// Without a spare the replacement serves when it has
					// started; with one, when the spare is promoted (the
					// new spare that then starts serves no one yet).
					want := host.EventWorkerStarted
					if spares > 0 {
						want = host.EventWorkerPromoted
					}
					if ev.Reason == host.ReasonCrash && ev.Kind == want {
						served <- ev.Time
					}
				},
			}
			p, err := host.NewPool(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			var ds []time.Duration
			for b.Loop() {
				b.StopTimer()
				// A full pool (spares too) before each kill.
				for {
					st := p.Stats().Workers
					if st[host.WorkerReady] == 2 && st[host.WorkerSpare] == spares && st[host.WorkerStarting] == 0 {
						break
					}
					time.Sleep(time.Millisecond) // outside the timer
				}
				b.StartTimer()
				victim := p.Workers()[0]
				for _, w := range p.Workers() {
					if w.State == host.WorkerReady {
						victim = w
						break
					}
				}
				t0 := time.Now()
				syscall.Kill(victim.PID, syscall.SIGKILL)
				ds = append(ds, (<-served).Sub(t0))
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(ds[(len(ds)*99)/100])/1e6, "p99-ms")
			if _, err := host.Call(context.Background(), p, testproto.Ping, "x"); err != nil {
				b.Fatalf("Call after the kills: %v", err)
			}
		})
	}
}

// BenchmarkPoolIdle100 starts a pool of 100 idle workers and reports the
// time to start them all and their total resident memory.
//
//	go test ./test/e2e/ -run '^$' -bench PoolIdle100 -benchtime 1x
func BenchmarkPoolIdle100(b *testing.B) {
	for b.Loop() {
		cfg := host.PoolConfig{
			Worker: host.Config{Cmd: exec.Command(bins["testworker"], "-stdout-lines", "0"), Handshake: testproto.Handshake, Name: "idle"},
			Size:   100,
		}
		t0 := time.Now()
		p, err := host.NewPool(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Since(t0)
		var rss uint64
		for _, w := range p.Workers() {
			n, err := proc.RSS(w.PID)
			if err != nil {
				b.Fatal(err)
			}
			rss += n
		}
		b.StopTimer()
		p.Close()
		b.StartTimer()
		b.ReportMetric(start.Seconds(), "start-s")
		b.ReportMetric(float64(rss)/(1<<20), "total-rss-MiB")
	}
}
