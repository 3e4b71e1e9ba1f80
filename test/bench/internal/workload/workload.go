// Package workload measures one peer on one workload: start-up, sequential
// round-trip latency, concurrent throughput, large echo bandwidth and idle
// worker memory. The functions here are shared by the sidebyside command
// (fixed durations and counts) and the go test benchmarks (b.N).
package workload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/peers"
)

// Payload is the 32-byte payload of every ping, for every peer.
var Payload = []byte("0123456789abcdef0123456789ABCDEF")

// PayloadString is Payload as the string of a struct ping.
var PayloadString = string(Payload)

// EchoSize is the size of the large echo.
const EchoSize = 1 << 20

// NewEchoBlob returns EchoSize bytes of a pattern with every byte value.
func NewEchoBlob() []byte { return Blob(EchoSize) }

// Blob returns n bytes of a pattern with every byte value.
func Blob(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// Sizes of the sequential round-trip sweep, lane counts of the concurrent
// sweep, and the payload sizes of the 64 KiB step probe (this project only:
// the issue saw p50 jump between 65,450 and 65,460 bytes, where payload and
// envelope cross 64 KiB).
var (
	RoundTripSizes = []int{32, 1 << 10, 64 << 10, 1 << 20}
	LaneCounts     = []int{1, 10, 100, 1000}
	StepSizes      = []int{65400, 65450, 65460, 65536, 70000}
)

// RoundTrips makes warm round trips of blob, unmeasured, and then n
// sequential ones, and returns each one's time. A 32-byte blob goes as a
// ping, any other size as an echo (the same handler on every peer). Each
// reply's length and ends are checked, and the first reply in full.
func RoundTrips(ctx context.Context, c peers.Client, blob []byte, warm, n int) ([]time.Duration, error) {
	call := c.Echo
	if len(blob) == len(Payload) {
		call = c.Ping
	}
	first := true
	return sequential(ctx, warm, n, func() error {
		b, err := call(ctx, blob)
		if err != nil {
			return err
		}
		if first {
			first = false
			if !bytes.Equal(b, blob) {
				return fmt.Errorf("round trip of %d bytes returned different bytes", len(blob))
			}
		}
		if len(b) != len(blob) || b[0] != blob[0] || b[len(b)-1] != blob[len(blob)-1] {
			return fmt.Errorf("round trip returned %d bytes, want %d", len(b), len(blob))
		}
		return nil
	})
}

// The functions below pass their ctx to every call. Give them a context
// without a deadline (cancel it to stop them early): iw and gRPC send a
// deadline with each call, and their workers then arm a timer per call.

// Startup launches the peer, makes one ping and closes it; it returns the
// time from spawn to the first reply (Close is not counted).
func Startup(ctx context.Context, p peers.Peer, w *peers.Workers) (time.Duration, error) {
	start := time.Now()
	c, err := p.Start(ctx, w, peers.Options{})
	if err != nil {
		return 0, err
	}
	_, err = ping(ctx, c)
	d := time.Since(start)
	if cerr := c.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", p.Name, cerr)
	}
	return d, err
}

// ping makes one 32-byte ping and checks the answer.
func ping(ctx context.Context, c peers.Caller) ([]byte, error) {
	b, err := c.Ping(ctx, Payload)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b, Payload) {
		return nil, fmt.Errorf("ping returned %q, want %q", b, Payload)
	}
	return b, nil
}

// Latency makes warm pings, unmeasured, and then n sequential pings, and
// returns each one's round-trip time.
func Latency(ctx context.Context, c peers.Client, warm, n int) ([]time.Duration, error) {
	return sequential(ctx, warm, n, func() error { _, err := ping(ctx, c); return err })
}

// LatencyStruct is Latency with a one-string struct, through the peer's own
// serializer.
func LatencyStruct(ctx context.Context, c peers.Client, warm, n int) ([]time.Duration, error) {
	return sequential(ctx, warm, n, func() error {
		s, err := c.PingStruct(ctx, PayloadString)
		if err == nil && s != PayloadString {
			err = fmt.Errorf("ping-struct returned %q, want %q", s, PayloadString)
		}
		return err
	})
}

func sequential(ctx context.Context, warm, n int, call func() error) ([]time.Duration, error) {
	for range warm {
		if err := call(); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if err := call(); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
		if len(lat)%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return lat, nil
}

// Percentile returns the q-quantile (0..1) of ds, nearest rank, sorting ds.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// Concurrent runs g goroutines that ping back to back until d has passed or
// maxCalls calls were started (0: no limit), and returns the calls made and
// the elapsed time (until the last goroutine finished).
func Concurrent(ctx context.Context, c peers.Caller, g int, d time.Duration, maxCalls int64) (int64, time.Duration, error) {
	var (
		stop   atomic.Bool
		budget atomic.Int64
		total  atomic.Int64
		wg     sync.WaitGroup
		errMu  sync.Mutex
		first  error
	)
	budget.Store(maxCalls)
	start := time.Now()
	var timer *time.Timer
	if d > 0 {
		timer = time.AfterFunc(d, func() { stop.Store(true) })
	}
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for !stop.Load() && (maxCalls == 0 || budget.Add(-1) >= 0) {
				if _, err := ping(ctx, c); err != nil {
					errMu.Lock()
					first = cmpErr(first, err)
					errMu.Unlock()
					stop.Store(true)
					break
				}
				n++
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if timer != nil {
		timer.Stop()
	}
	return total.Load(), elapsed, first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Echo echoes blob warm times, unmeasured, then until n echoes were made or
// d has passed (0: no limit), checking each reply's length and ends (and
// the first reply in full). It returns the measured echoes and their time.
func Echo(ctx context.Context, c peers.Client, blob []byte, warm, n int, d time.Duration) (int, time.Duration, error) {
	for i := range warm {
		b, err := c.Echo(ctx, blob)
		if err != nil {
			return 0, 0, err
		}
		if i == 0 && !bytes.Equal(b, blob) {
			return 0, 0, errors.New("echo returned different bytes")
		}
	}
	start := time.Now()
	count := 0
	for count < n && (d == 0 || time.Since(start) < d) {
		b, err := c.Echo(ctx, blob)
		if err != nil {
			return 0, 0, err
		}
		if len(b) != len(blob) || b[0] != blob[0] || b[len(b)-1] != blob[len(blob)-1] {
			return 0, 0, fmt.Errorf("echo returned %d bytes, want %d", len(b), len(blob))
		}
		count++
	}
	return count, time.Since(start), nil
}

// Faults counts the minor page faults (first touches of fresh memory) of
// the worker and of this, the host, process during a measurement.
type Faults struct {
	Worker, Host int64
}

// FirstEcho launches the peer, makes one ping (so start-up is not
// counted), and times the first echo of blob on the new connection. It
// also returns the page faults the echo caused.
func FirstEcho(ctx context.Context, p peers.Peer, w *peers.Workers, blob []byte) (time.Duration, Faults, error) {
	c, err := p.Start(ctx, w, peers.Options{})
	if err != nil {
		return 0, Faults{}, err
	}
	defer c.Close()
	if _, err := ping(ctx, c); err != nil {
		return 0, Faults{}, err
	}
	w0, h0 := MinorFaults(c.PID()), MinorFaults(0)
	start := time.Now()
	b, err := c.Echo(ctx, blob)
	d := time.Since(start)
	f := Faults{Worker: MinorFaults(c.PID()) - w0, Host: MinorFaults(0) - h0}
	if err == nil && !bytes.Equal(b, blob) {
		err = errors.New("echo returned different bytes")
	}
	return d, f, err
}

// MinorFaults returns the minor page faults of process pid so far (0: this
// process), from /proc, or 0 if it cannot be read.
func MinorFaults(pid int) int64 {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	// After the command: state ppid pgrp session tty tpgid flags minflt.
	f := strings.Fields(s[i+1:])
	if len(f) < 8 {
		return 0
	}
	n, _ := strconv.ParseInt(f[7], 10, 64)
	return n
}

// IdleRSS makes a few pings, lets the worker idle for idle, and returns its
// resident set size.
func IdleRSS(ctx context.Context, c peers.Client, calls int, idle time.Duration) (int64, error) {
	for range calls {
		if _, err := ping(ctx, c); err != nil {
			return 0, err
		}
	}
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return RSS(c.PID())
}

// RSS returns VmRSS of process pid in bytes, from /proc.
func RSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "4532 kB"
			if len(f) != 2 || f[1] != "kB" {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				break
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}
