package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/peers"
)

// Workload names, in the order they run for each peer.
const (
	WStartup       = "startup"
	WLatency       = "latency"
	WConcurrency   = "concurrency"
	WLatencyStruct = "latency-struct"
	WEcho          = "echo"
	WEchoFirst     = "echo-first"
	WRSS           = "rss"
)

// Names returns every workload in run order.
func Names() []string {
	return []string{WStartup, WLatency, WConcurrency, WLatencyStruct, WEcho, WEchoFirst, WRSS}
}

// SelectWorkloads parses a comma-separated list; "" or "all" means every
// workload. The result is in run order.
func SelectWorkloads(list string) ([]string, error) {
	if list == "" || list == "all" {
		return Names(), nil
	}
	want := strings.Split(list, ",")
	for i := range want {
		want[i] = strings.TrimSpace(want[i])
		if !slices.Contains(Names(), want[i]) {
			return nil, fmt.Errorf("unknown workload %q (workloads: %s)", want[i], strings.Join(Names(), ", "))
		}
	}
	var out []string
	for _, n := range Names() {
		if slices.Contains(want, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Config is one side-by-side run. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	Peers     []peers.Peer
	Workloads []string
	Workers   *peers.Workers

	StartupLaunches int           // launches per peer; the median is reported
	LatencyWarm     int           // unmeasured pings before the latency runs
	LatencyCalls    int           // measured sequential pings
	StructCalls     int           // measured sequential struct pings
	Goroutines      int           // concurrent callers
	ConcurrentWarm  time.Duration // unmeasured concurrent calling
	ConcurrentFor   time.Duration // measured concurrent calling
	EchoWarm        int           // unmeasured echoes
	EchoCount       int           // measured echoes, at most
	EchoMax         time.Duration // measured echoing, at most
	EchoFirstN      int           // fresh workers whose first echo is timed
	RSSCalls        int           // pings before idling
	RSSIdle         time.Duration // idle time before reading RSS
	WorkloadTimeout time.Duration // bound on one peer's workload

	// CPUProfileIW, when set, is written with the CPU profile of this
	// process while iw runs the workloads in CPUProfileIWWorkloads
	// (default latency and concurrency), which then run first for iw.
	CPUProfileIW          string
	CPUProfileIWWorkloads []string
	// WorkerCPUProfileIW, when set, makes the iw worker of each of those
	// workloads write its own CPU profile to WorkerCPUProfileIW.<workload>.
	WorkerCPUProfileIW string

	// Progress receives a line per finished workload (nil: none).
	Progress io.Writer
}

// DefaultConfig is the full run: about 70 s on a 2-core machine.
func DefaultConfig() Config {
	return Config{
		StartupLaunches: 15,
		LatencyWarm:     2000,
		LatencyCalls:    20000,
		StructCalls:     10000,
		Goroutines:      100,
		ConcurrentWarm:  300 * time.Millisecond,
		ConcurrentFor:   3 * time.Second,
		EchoWarm:        3,
		EchoCount:       200,
		EchoMax:         5 * time.Second,
		EchoFirstN:      5,
		RSSCalls:        10,
		RSSIdle:         time.Second,
		WorkloadTimeout: 90 * time.Second,

		CPUProfileIWWorkloads: []string{WLatency, WConcurrency},
	}
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	if len(c.Peers) == 0 {
		c.Peers = peers.All()
	}
	if len(c.Workloads) == 0 {
		c.Workloads = Names()
	}
	or(&c.StartupLaunches, d.StartupLaunches)
	or(&c.LatencyWarm, d.LatencyWarm)
	or(&c.LatencyCalls, d.LatencyCalls)
	or(&c.StructCalls, d.StructCalls)
	or(&c.Goroutines, d.Goroutines)
	or(&c.ConcurrentWarm, d.ConcurrentWarm)
	or(&c.ConcurrentFor, d.ConcurrentFor)
	or(&c.EchoWarm, d.EchoWarm)
	or(&c.EchoCount, d.EchoCount)
	or(&c.EchoMax, d.EchoMax)
	or(&c.EchoFirstN, d.EchoFirstN)
	or(&c.RSSCalls, d.RSSCalls)
	or(&c.RSSIdle, d.RSSIdle)
	or(&c.WorkloadTimeout, d.WorkloadTimeout)
	if len(c.CPUProfileIWWorkloads) == 0 {
		c.CPUProfileIWWorkloads = d.CPUProfileIWWorkloads
	}
}

func or[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Run measures every selected workload for every selected peer, one peer
// at a time, and returns the report. A peer that fails a workload gets an
// error in that row; the run goes on.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if cfg.Workers == nil {
		return nil, fmt.Errorf("workload: Config.Workers is nil")
	}
	r := newReport(cfg)
	for _, p := range cfg.Peers {
		order := cfg.Workloads
		profiled := p.Name == "iw" && cfg.CPUProfileIW != ""
		if profiled {
			order = profiledFirst(cfg.Workloads, cfg.CPUProfileIWWorkloads)
		}
		profiling := false
		for _, wl := range order {
			if err := ctx.Err(); err != nil {
				return r, err
			}
			inProfile := profiled && slices.Contains(cfg.CPUProfileIWWorkloads, wl)
			if inProfile && !profiling {
				stop, err := startCPUProfile(cfg.CPUProfileIW)
				if err != nil {
					return r, err
				}
				defer stop()
				profiling = true
			}
			if !inProfile && profiling {
				stopCPUProfile()
				profiling = false
			}
			opt := peers.Options{}
			if p.Name == "iw" && cfg.WorkerCPUProfileIW != "" && slices.Contains(cfg.CPUProfileIWWorkloads, wl) {
				opt.WorkerCPUProfile = cfg.WorkerCPUProfileIW + "." + wl
			}
			// The workload's bound cancels its context rather than setting a
			// deadline: a deadline would travel with every call (iw and gRPC
			// propagate it, and their workers then arm a timer per call),
			// which is not the path being compared.
			wctx, cancel := context.WithCancel(ctx)
			bound := time.AfterFunc(cfg.WorkloadTimeout, cancel)
			start := time.Now()
			summary, err := runOne(wctx, &cfg, r, p, wl, opt)
			bound.Stop()
			cancel()
			switch {
			case errors.Is(err, peers.ErrUnsupported):
				summary = "n/a: " + err.Error()
			case err != nil:
				r.fail(wl, p.Name, err)
				summary = "FAILED: " + err.Error()
			}
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "%-7s %-15s %-40s (%.1fs)\n", p.Name, wl, summary, time.Since(start).Seconds())
			}
		}
		if profiling {
			stopCPUProfile()
		}
	}
	r.finish()
	return r, nil
}

// profiledFirst puts the profiled workloads first, keeping run order inside
// both groups, so one profile covers exactly them.
func profiledFirst(all, profiled []string) []string {
	var first, rest []string
	for _, w := range all {
		if slices.Contains(profiled, w) {
			first = append(first, w)
		} else {
			rest = append(rest, w)
		}
	}
	return append(first, rest...)
}

var profileFile *os.File

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	profileFile = f
	return stopCPUProfile, nil
}

func stopCPUProfile() {
	if profileFile == nil {
		return
	}
	pprof.StopCPUProfile()
	profileFile.Close()
	profileFile = nil
}

// runOne runs workload wl for peer p, records its values in r and returns a
// one-line summary.
func runOne(ctx context.Context, cfg *Config, r *Report, p peers.Peer, wl string, opt peers.Options) (string, error) {
	if wl == WEchoFirst {
		blob := NewEchoBlob()
		ds := make([]time.Duration, 0, cfg.EchoFirstN)
		var faults Faults
		for range cfg.EchoFirstN {
			d, f, err := FirstEcho(ctx, p, cfg.Workers, blob)
			if err != nil {
				return "", err
			}
			ds = append(ds, d)
			faults.Worker += f.Worker
			faults.Host += f.Host
		}
		med := Percentile(ds, 0.5)
		r.set(RowEchoFirst, p.Name, ms(med))
		n := int64(cfg.EchoFirstN)
		return fmt.Sprintf("median %.1f ms (min %.1f, max %.1f), page faults per echo: worker %d, host %d",
			ms(med), ms(ds[0]), ms(ds[len(ds)-1]), faults.Worker/n, faults.Host/n), nil
	}
	if wl == WStartup {
		ds := make([]time.Duration, 0, cfg.StartupLaunches)
		for range cfg.StartupLaunches {
			d, err := Startup(ctx, p, cfg.Workers)
			if err != nil {
				return "", err
			}
			ds = append(ds, d)
		}
		med := Percentile(ds, 0.5)
		r.set(RowStartup, p.Name, ms(med))
		return fmt.Sprintf("median %.1f ms (min %.1f, max %.1f)", ms(med), ms(ds[0]), ms(ds[len(ds)-1])), nil
	}

	c, err := p.Start(ctx, cfg.Workers, opt)
	if err != nil {
		return "", err
	}
	defer c.Close()

	switch wl {
	case WLatency:
		lat, err := Latency(ctx, c, cfg.LatencyWarm, cfg.LatencyCalls)
		if err != nil {
			return "", err
		}
		p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)
		r.set(RowLatencyP50, p.Name, us(p50))
		r.set(RowLatencyP99, p.Name, us(p99))
		return fmt.Sprintf("p50 %.1f us, p99 %.1f us", us(p50), us(p99)), nil
	case WLatencyStruct:
		if _, err := c.PingStruct(ctx, PayloadString); errors.Is(err, peers.ErrUnsupported) {
			return "", err
		}
		lat, err := LatencyStruct(ctx, c, cfg.LatencyWarm/2, cfg.StructCalls)
		if err != nil {
			return "", err
		}
		p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)
		r.set(RowStructP50, p.Name, us(p50))
		r.set(RowStructP99, p.Name, us(p99))
		return fmt.Sprintf("p50 %.1f us, p99 %.1f us", us(p50), us(p99)), nil
	case WConcurrency:
		caller, err := peers.ConcurrentCaller(c)
		if err != nil {
			return "", err
		}
		if _, _, err := Concurrent(ctx, caller, cfg.Goroutines, cfg.ConcurrentWarm, 0); err != nil {
			return "", err
		}
		n, el, err := Concurrent(ctx, caller, cfg.Goroutines, cfg.ConcurrentFor, 0)
		if err != nil {
			return "", err
		}
		rate := float64(n) / el.Seconds()
		r.set(RowConcurrency, p.Name, rate)
		return fmt.Sprintf("%.0f msg/s (%d calls in %.2fs)", rate, n, el.Seconds()), nil
	case WEcho:
		blob := NewEchoBlob()
		n, el, err := Echo(ctx, c, blob, cfg.EchoWarm, cfg.EchoCount, cfg.EchoMax)
		if err != nil {
			return "", err
		}
		mbs := float64(2*n*len(blob)) / 1e6 / el.Seconds()
		r.set(RowEcho, p.Name, mbs)
		return fmt.Sprintf("%.0f MB/s (%d echoes, %.2f ms each)", mbs, n, ms(el)/float64(n)), nil
	case WRSS:
		rss, err := IdleRSS(ctx, c, cfg.RSSCalls, cfg.RSSIdle)
		if err != nil {
			return "", err
		}
		r.set(RowRSS, p.Name, float64(rss)/(1<<20))
		return fmt.Sprintf("%.1f MiB", float64(rss)/(1<<20)), nil
	}
	return "", fmt.Errorf("unknown workload %q", wl)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// env describes the machine in the report.
func env() (goVersion string, procs, cpus int) {
	return runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU()
}
