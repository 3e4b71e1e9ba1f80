package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/peers"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/workload"
)

var (
	buildOnce sync.Once
	built     *peers.Workers
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if n := peers.KillAll(); n > 0 {
		fmt.Fprintf(os.Stderr, "killed %d worker process(es) left running\n", n)
		code = 1
	}
	if built != nil {
		built.Remove()
	}
	os.Exit(code)
}

// workers builds the worker binaries once per test binary.
func workers(tb testing.TB) *peers.Workers {
	tb.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		built, buildErr = peers.Build(ctx)
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return built
}

// start starts p's worker and closes it when tb ends.
func start(tb testing.TB, p peers.Peer) peers.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p.Start(ctx, workers(tb), peers.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// TestPeersAnswer starts each peer's worker, makes each call once, closes
// it, and checks that its process is gone.
func TestPeersAnswer(t *testing.T) {
	ctx := context.Background()
	for _, p := range peers.All() {
		t.Run(p.Name, func(t *testing.T) {
			c, err := p.Start(ctx, workers(t), peers.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := c.Ping(ctx, workload.Payload)
			if err != nil || string(got) != string(workload.Payload) {
				t.Errorf("Ping(%q) = %q, %v, want %q, nil", workload.Payload, got, err, workload.Payload)
			}
			s, err := c.PingStruct(ctx, workload.PayloadString)
			if p.Name == "raw" || p.Name == "rawmux" {
				if err != peers.ErrUnsupported {
					t.Errorf("PingStruct on %s: err = %v, want ErrUnsupported", p.Name, err)
				}
			} else if err != nil || s != workload.PayloadString {
				t.Errorf("PingStruct(%q) = %q, %v, want %q, nil", workload.PayloadString, s, err, workload.PayloadString)
			}
			blob := workload.NewEchoBlob()[:200<<10] // over the library's 64 KiB bulk threshold
			echo, err := c.Echo(ctx, blob)
			if err != nil || string(echo) != string(blob) {
				t.Errorf("Echo(%d bytes) = %d bytes, %v; want the same bytes", len(blob), len(echo), err)
			}
			if p, ok := c.(peers.Pipeliner); ok {
				caller, err := p.Pipelined()
				if err != nil {
					t.Fatal(err)
				}
				if got, err := caller.Ping(ctx, workload.Payload); err != nil || string(got) != string(workload.Payload) {
					t.Errorf("pipelined Ping = %q, %v, want %q, nil", got, err, workload.Payload)
				}
			}
			pid := c.PID()
			if err := c.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
				t.Errorf("after Close, kill(%d, 0) = %v, want ESRCH (the worker is gone)", pid, err)
			}
		})
	}
}

// TestSideBySideSmoke runs every workload for every peer twice with tiny
// counts and checks every cell of the table is filled and sane: every
// figure is positive and finite, min <= median <= max, p99 >= p50, every
// ratio is finite and positive, and the step probe has every size. It
// asserts no time.
func TestSideBySideSmoke(t *testing.T) {
	cfg := workload.Config{
		Workers:         workers(t),
		Runs:            2,
		StartupLaunches: 1,
		LatencyWarm:     8,
		LatencyCalls:    40,
		LatencyCalls64K: 10,
		LatencyCalls1M:  3,
		StructCalls:     20,
		LanesWarm:       10 * time.Millisecond,
		LanesFor:        30 * time.Millisecond,
		RSSCalls:        2,
		RSSIdle:         10 * time.Millisecond,
		PoolKills:       3,
		PoolIdleWorkers: 4,
		WorkloadTimeout: time.Minute,
	}
	r, err := workload.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Failures(); len(f) > 0 {
		t.Errorf("Run: failures:\n%s", strings.Join(f, "\n"))
	}
	applies := func(row workload.Row, peer string) bool {
		switch {
		case row.Workload == workload.WLatencyStruct:
			return peer != "raw" && peer != "rawmux"
		case row.Group == workload.GroupStep, row.Group == workload.GroupPool:
			return peer == "iw"
		}
		return true
	}
	if len(r.Rows) == 0 {
		t.Fatal("the report has no rows")
	}
	for _, row := range r.Rows {
		for _, p := range peers.All() {
			v, ok := row.Values[p.Name]
			if !applies(row, p.Name) {
				if ok {
					t.Errorf("row %q has a value for %s, which it does not apply to", row.Key, p.Name)
				}
				continue
			}
			// A fresh worker's first echo may take no new page (the
			// fault row may be 0); every other figure is positive.
			zeroOK := row.Key == workload.RowEchoFirstFaults
			switch {
			case !ok:
				t.Errorf("row %q has no value for %s", row.Key, p.Name)
			case math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (v == 0 && !zeroOK):
				t.Errorf("row %q, %s: median %v, want a positive finite figure", row.Key, p.Name, v)
			case len(row.Runs[p.Name]) != cfg.Runs:
				t.Errorf("row %q, %s: %d runs recorded, want %d", row.Key, p.Name, len(row.Runs[p.Name]), cfg.Runs)
			case row.Min[p.Name] > v || v > row.Max[p.Name]:
				t.Errorf("row %q, %s: median %v outside min-max %v-%v", row.Key, p.Name, v, row.Min[p.Name], row.Max[p.Name])
			}
			if p.Name != "iw" && ok && !zeroOK {
				if q, ok := row.Ratios[p.Name]; !ok || math.IsNaN(q) || math.IsInf(q, 0) || q <= 0 {
					t.Errorf("row %q: ratio iw/%s = %v (present %v), want finite and positive", row.Key, p.Name, q, ok)
				}
			}
		}
	}
	// p99 >= p50 for every size and peer (each run's p99 is at least its
	// p50, so the medians over runs are too).
	var pairs [][2]string
	for _, size := range workload.RoundTripSizes {
		pairs = append(pairs, [2]string{workload.RowRT(size, 50), workload.RowRT(size, 99)})
	}
	for _, size := range workload.StepSizes {
		pairs = append(pairs, [2]string{workload.RowStep(size, 50), workload.RowStep(size, 99)})
	}
	pairs = append(pairs, [2]string{workload.RowStructP50, workload.RowStructP99})
	for _, spares := range workload.PoolSpares {
		pairs = append(pairs, [2]string{workload.RowPoolCrash(spares, 50), workload.RowPoolCrash(spares, 99)})
	}
	for _, pr := range pairs {
		p50, p99 := r.Row(pr[0]), r.Row(pr[1])
		if p50 == nil || p99 == nil {
			t.Errorf("no rows %q and %q", pr[0], pr[1])
			continue
		}
		for peer, v := range p50.Values {
			if p99.Values[peer] < v {
				t.Errorf("%s: %s = %v is below %s = %v", peer, pr[1], p99.Values[peer], pr[0], v)
			}
		}
	}
	var sb, md strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"iw vs net/rpc", "iw vs gRPC", "iw vs raw yamux", "iw vs raw lock-step", "spawn to first reply",
		"p99", "ONE way", "1000 lane(s)", "RSS", "GOMAXPROCS=", "nproc", "median of 2 runs", "64 KiB step", "65460",
		"go-plugin has no pools", "kill -9 to a worker serving in its place, no spare, p50", "1 warm spare(s), p99",
		"4 idle workers: start them all", "4 idle workers: total RSS", "no pools"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("table has no %q:\n%s", want, sb.String())
		}
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown has no %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(sb.String(), " - ") || strings.Contains(sb.String(), "FAILED") {
		t.Errorf("table has an empty or failed cell:\n%s", sb.String())
	}
	if testing.Verbose() {
		t.Log("\n" + sb.String())
	}
	if n := peers.Live(); n != 0 {
		t.Errorf("%d worker process(es) still running after Run", n)
	}
}

// forEachPeer runs fn as a sub-benchmark per peer.
func forEachPeer(b *testing.B, fn func(b *testing.B, p peers.Peer)) {
	for _, p := range peers.All() {
		b.Run(p.Name, func(b *testing.B) { fn(b, p) })
	}
}

// BenchmarkStartup is spawn to first reply; ns/op is one launch.
func BenchmarkStartup(b *testing.B) {
	forEachPeer(b, func(b *testing.B, p peers.Peer) {
		w := workers(b)
		ds := make([]time.Duration, 0, b.N)
		for b.Loop() {
			d, err := workload.Startup(context.Background(), p, w)
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, d)
		}
		b.ReportMetric(ms(workload.Percentile(ds, 0.5)), "p50-ms")
	})
}

// BenchmarkLatency is sequential 32-byte pings, with p50 and p99.
func BenchmarkLatency(b *testing.B) {
	forEachPeer(b, func(b *testing.B, p peers.Peer) {
		c := start(b, p)
		lat, err := workload.Latency(context.Background(), c, 1000, 0) // warm-up only
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		lat, err = workload.Latency(context.Background(), c, 0, b.N)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		reportLatency(b, lat)
	})
}

// BenchmarkLatencyStruct is sequential one-string struct pings through each
// peer's serializer (not raw, which has none).
func BenchmarkLatencyStruct(b *testing.B) {
	forEachPeer(b, func(b *testing.B, p peers.Peer) {
		if p.Name == "raw" {
			b.Skip("raw has no serializer")
		}
		c := start(b, p)
		if _, err := workload.LatencyStruct(context.Background(), c, 1000, 0); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		lat, err := workload.LatencyStruct(context.Background(), c, 0, b.N)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(us(workload.Percentile(lat, 0.5)), "p50-us")
	b.ReportMetric(us(workload.Percentile(lat, 0.99)), "p99-us")
}

// BenchmarkConcurrent100 is 100 goroutines making b.N pings in all.
func BenchmarkConcurrent100(b *testing.B) {
	forEachPeer(b, func(b *testing.B, p peers.Peer) {
		c := start(b, p)
		caller, err := peers.ConcurrentCaller(c)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := workload.Concurrent(context.Background(), caller, 100, 200*time.Millisecond, 0); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		n, el, err := workload.Concurrent(context.Background(), caller, 100, 0, int64(b.N))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "msg/s")
	})
}

// BenchmarkEcho1MiB echoes 1 MiB; MB/s counts bytes sent plus received.
func BenchmarkEcho1MiB(b *testing.B) {
	forEachPeer(b, func(b *testing.B, p peers.Peer) {
		c := start(b, p)
		blob := workload.NewEchoBlob()
		if _, _, err := workload.Echo(context.Background(), c, blob, 2, 0, 0); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(2 * int64(len(blob)))
		b.ResetTimer()
		if _, _, err := workload.Echo(context.Background(), c, blob, 0, b.N, 0); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkIdleRSS reports a fresh worker's resident memory after 10 pings
// and 1 s idle (once per sub-benchmark; the time per op means nothing).
func BenchmarkIdleRSS(b *testing.B) {
	forEachPeer(b, func(b *testing.B, p peers.Peer) {
		c := start(b, p)
		rss, err := workload.IdleRSS(context.Background(), c, 10, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
		}
		b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkPoolCrashToReplacement is the time from a SIGKILL of a pool's
// worker to a worker serving in its place, without and with one warm
// spare; b.N kills, reported as p50-ms and p99-ms.
//
//	go test -run '^$' -bench PoolCrashToReplacement -benchtime 50x
func BenchmarkPoolCrashToReplacement(b *testing.B) {
	for _, spares := range workload.PoolSpares {
		b.Run(fmt.Sprintf("spares=%d", spares), func(b *testing.B) {
			w := workers(b)
			ds, err := workload.CrashToReplacement(context.Background(), w, spares, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ms(workload.Percentile(ds, 0.5)), "p50-ms")
			b.ReportMetric(ms(workload.Percentile(ds, 0.99)), "p99-ms")
		})
	}
}

// BenchmarkPoolIdle100 starts a pool of 100 idle workers and reports the
// time to start them all and their total resident memory.
//
//	go test -run '^$' -bench PoolIdle100 -benchtime 1x
func BenchmarkPoolIdle100(b *testing.B) {
	w := workers(b)
	for b.Loop() {
		start, rss, err := workload.IdlePool(context.Background(), w, 100)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(start.Seconds(), "start-s")
		b.ReportMetric(float64(rss)/(1<<20), "total-rss-MiB")
	}
}
