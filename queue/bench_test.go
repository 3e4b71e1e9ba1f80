package queue

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// BenchmarkEnqueue measures a confirmed Enqueue of a small job on the
// embedded server (file storage), with p50/p99 latency.
func BenchmarkEnqueue(b *testing.B) {
	q, err := Open(context.Background(), Config{StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := q.Enqueue(ctx, Job{ID: "j" + strconv.Itoa(i), Type: "t", Payload: []byte("small")}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkEnqueueToCompleted measures jobs per second from Enqueue to
// COMPLETED (acknowledged) on the embedded server, with a consumer running
// 2 jobs at a time (a pool of 2 that does no work).
func BenchmarkEnqueueToCompleted(b *testing.B) {
	q, err := Open(context.Background(), Config{StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithCancel(context.Background())
	completed := make(chan struct{}, b.N)
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(ctx, ConsumerConfig{MaxInFlight: 2, FetchWait: 100 * time.Millisecond,
			Status: status.PublisherFunc(func(ev status.Event) {
				if ev.Status == status.Completed {
					completed <- struct{}{}
				}
			}),
			Handler: func(context.Context, Job) error { return nil }})
	}()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := q.Enqueue(ctx, Job{ID: "j" + strconv.Itoa(i), Type: "t", Payload: []byte("small")}); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		<-completed
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	b.StopTimer()
	cancel()
	<-done
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
}
