package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// benchWorker starts the test worker for b, without a logger, and closes
// it when b ends. It fails b (not a throwaway testing.T) when the worker
// cannot start.
func benchWorker(b *testing.B) *host.Worker {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(bins["testworker"]),
		Handshake: testproto.Handshake,
		Name:      "testworker",
	})
	if err != nil {
		b.Fatalf("start the benchmark's worker: %v", err)
	}
	b.Cleanup(func() { w.Close() })
	return w
}

// BenchmarkRoundTrip is sequential 32-byte calls; it reports p50 and p99.
func BenchmarkRoundTrip(b *testing.B) {
	w := benchWorker(b)
	ctx := context.Background()
	payload := string(bytes.Repeat([]byte("x"), 32))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		if _, err := host.Call(ctx, w, testproto.Ping, payload); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
}

// BenchmarkConcurrent100 is 100 goroutines calling at once.
func BenchmarkConcurrent100(b *testing.B) {
	w := benchWorker(b)
	ctx := context.Background()
	payload := string(bytes.Repeat([]byte("x"), 32))
	var wg sync.WaitGroup
	per := b.N/100 + 1
	b.ResetTimer()
	start := time.Now()
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if _, err := host.Call(ctx, w, testproto.Ping, payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*100)/time.Since(start).Seconds(), "msg/s")
}

// BenchmarkEcho1MiB echoes 1 MiB of raw bytes; SetBytes counts both ways.
func BenchmarkEcho1MiB(b *testing.B) {
	w := benchWorker(b)
	ctx := context.Background()
	blob := bytes.Repeat([]byte{1, 2, 3, 0}, 1<<18)
	b.SetBytes(2 << 20)
	b.ResetTimer()
	for range b.N {
		if _, err := host.Call(ctx, w, testproto.Echo, blob); err != nil {
			b.Fatal(err)
		}
	}
}
