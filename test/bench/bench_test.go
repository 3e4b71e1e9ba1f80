package bench

import (
	"context"
	"fmt"
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
			if p.Name == "raw" {
				if err != peers.ErrUnsupported {
					t.Errorf("PingStruct on raw: err = %v, want ErrUnsupported", err)
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

// TestSideBySideSmoke runs every workload for every peer with tiny counts
// and checks the table has a figure in every cell.
func TestSideBySideSmoke(t *testing.T) {
	cfg := workload.Config{
		Workers:         workers(t),
		StartupLaunches: 1,
		LatencyWarm:     10,
		LatencyCalls:    50,
		StructCalls:     50,
		Goroutines:      100,
		ConcurrentWarm:  20 * time.Millisecond,
		ConcurrentFor:   100 * time.Millisecond,
		EchoWarm:        1,
		EchoCount:       2,
		EchoFirstN:      1,
		RSSCalls:        2,
		RSSIdle:         10 * time.Millisecond,
		WorkloadTimeout: time.Minute,
	}
	r, err := workload.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Failures(); len(f) > 0 {
		t.Errorf("Run: failures:\n%s", strings.Join(f, "\n"))
	}
	for _, row := range r.Rows {
		for _, p := range peers.All() {
			if _, ok := row.Values[p.Name]; !ok && !(p.Name == "raw" && row.Workload == workload.WLatencyStruct) {
				t.Errorf("row %q has no value for %s", row.Key, p.Name)
			}
		}
	}
	var sb strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"iw vs net/rpc", "iw vs gRPC", "iw vs raw", "start-up", "p99", "MB/s", "RSS"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("table has no %q:\n%s", want, sb.String())
		}
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
