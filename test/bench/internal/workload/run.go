package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	WLanes         = "lanes"
	WLatencyStruct = "latency-struct"
	WEchoFirst     = "echo-first"
	WStep          = "step"
	WRSS           = "rss"
	WPool          = "pool" // isolated-workers only: go-plugin has no pools
)

// Names returns every workload in run order.
func Names() []string {
	return []string{WStartup, WLatency, WLanes, WLatencyStruct, WEchoFirst, WStep, WRSS, WPool}
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

	// Runs is how many times every workload runs for every peer; each
	// figure in the table is the median over the runs, with their min and
	// max. Runs interleave the peers (run 1 of every peer, then run 2...),
	// so a disturbance of the machine spreads over all of them.
	Runs int

	StartupLaunches int           // launches per peer and run; the run's figure is their median
	LatencyWarm     int           // unmeasured round trips before each size
	LatencyCalls    int           // measured sequential round trips of 32 B and 1 KiB
	LatencyCalls64K int           // measured sequential round trips of 64 KiB (and of each step size)
	LatencyCalls1M  int           // measured sequential 1 MiB echoes (also the bandwidth figure)
	StructCalls     int           // measured sequential struct pings
	LanesWarm       time.Duration // unmeasured concurrent calling, per lane count
	LanesFor        time.Duration // measured concurrent calling, per lane count
	RSSCalls        int           // pings before idling
	RSSIdle         time.Duration // idle time, at least, before reading RSS
	PoolKills       int           // kills per run of a pool's worker, without and with a spare
	PoolIdleWorkers int           // workers of the idle pool (start time, total RSS)
	WorkloadTimeout time.Duration // bound on one peer's workload

	// CPUProfileIW, when set, is written with the CPU profile of this
	// process while iw runs the workloads in CPUProfileIWWorkloads
	// (default latency and lanes) in the first run; they then run first
	// for iw in that run.
	CPUProfileIW          string
	CPUProfileIWWorkloads []string
	// WorkerCPUProfileIW, when set, makes the iw worker of each of those
	// workloads write its own CPU profile to WorkerCPUProfileIW.<workload>.
	WorkerCPUProfileIW string

	// Progress receives a line per finished workload (nil: none).
	Progress io.Writer
}

// DefaultConfig is the full run: about 4 minutes on a 2-core machine (the pool workload adds about 10 s a run).
func DefaultConfig() Config {
	return Config{
		Runs:            5,
		StartupLaunches: 3,
		LatencyWarm:     500,
		LatencyCalls:    5000,
		LatencyCalls64K: 1000,
		LatencyCalls1M:  60,
		StructCalls:     3000,
		LanesWarm:       100 * time.Millisecond,
		LanesFor:        600 * time.Millisecond,
		RSSCalls:        10,
		RSSIdle:         time.Second,
		PoolKills:       30,
		PoolIdleWorkers: 100,
		WorkloadTimeout: 90 * time.Second,

		CPUProfileIWWorkloads: []string{WLatency, WLanes},
	}
}

// QuickConfig is DefaultConfig with fewer runs and calls: about a minute.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Runs = 3
	c.LatencyCalls = 2000
	c.LatencyCalls64K = 400
	c.LatencyCalls1M = 30
	c.StructCalls = 1000
	c.LanesFor = 300 * time.Millisecond
	c.PoolKills = 15
	return c
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	or(&c.Runs, d.Runs)
	or(&c.StartupLaunches, d.StartupLaunches)
	or(&c.LatencyWarm, d.LatencyWarm)
	or(&c.LatencyCalls, d.LatencyCalls)
	or(&c.LatencyCalls64K, d.LatencyCalls64K)
	or(&c.LatencyCalls1M, d.LatencyCalls1M)
	or(&c.StructCalls, d.StructCalls)
	or(&c.LanesWarm, d.LanesWarm)
	or(&c.LanesFor, d.LanesFor)
	or(&c.RSSCalls, d.RSSCalls)
	or(&c.RSSIdle, d.RSSIdle)
	or(&c.PoolKills, d.PoolKills)
	or(&c.PoolIdleWorkers, d.PoolIdleWorkers)
	or(&c.WorkloadTimeout, d.WorkloadTimeout)
	if len(c.CPUProfileIWWorkloads) == 0 {
		c.CPUProfileIWWorkloads = d.CPUProfileIWWorkloads
	}
	if len(c.Peers) == 0 {
		c.Peers = peers.All()
	}
	if len(c.Workloads) == 0 {
		c.Workloads = Names()
	}
}

func or[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// callsFor is the number of measured round trips of a payload size.
func (c *Config) callsFor(size int) int {
	switch {
	case size >= 1<<20:
		return c.LatencyCalls1M
	case size >= 32<<10:
		return c.LatencyCalls64K
	}
	return c.LatencyCalls
}

// Run measures every selected workload for every selected peer, Runs
// times, and returns the report. A peer that fails a workload gets an
// error in that row; the run goes on.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if cfg.Workers == nil {
		return nil, fmt.Errorf("workload: Config.Workers is nil")
	}
	r := newReport(cfg)
	for run := range cfg.Runs {
		for _, p := range cfg.Peers {
			if err := runPeer(ctx, &cfg, r, p, run); err != nil {
				return r, err
			}
		}
	}
	r.finish()
	return r, nil
}

// runPeer runs every workload once for one peer. The RSS worker is started
// first and idles while the others run; its RSS is read at the end.
func runPeer(ctx context.Context, cfg *Config, r *Report, p peers.Peer, run int) error {
	order := cfg.Workloads
	profiled := run == 0 && p.Name == "iw" && cfg.CPUProfileIW != ""
	if profiled {
		order = profiledFirst(cfg.Workloads, cfg.CPUProfileIWWorkloads)
	}
	var rss *idleWorker
	if slices.Contains(order, WRSS) {
		rss = startIdle(ctx, cfg, p)
	}
	profiling := false
	defer func() {
		if profiling {
			stopCPUProfile()
		}
	}()
	for _, wl := range order {
		if err := ctx.Err(); err != nil {
			if rss != nil && rss.c != nil {
				rss.c.Close()
			}
			return err
		}
		inProfile := profiled && slices.Contains(cfg.CPUProfileIWWorkloads, wl)
		if inProfile && !profiling {
			if err := startCPUProfile(cfg.CPUProfileIW); err != nil {
				return err
			}
			profiling = true
		}
		if !inProfile && profiling {
			stopCPUProfile()
			profiling = false
		}
		opt := peers.Options{}
		if inProfile && cfg.WorkerCPUProfileIW != "" {
			opt.WorkerCPUProfile = cfg.WorkerCPUProfileIW + "." + wl
		}
		// The workload's bound cancels its context rather than setting a
		// deadline: a deadline would travel with every call (iw and gRPC
		// propagate it, and their workers then arm a timer per call),
		// which is not the path being compared.
		wctx, cancel := context.WithCancel(ctx)
		bound := time.AfterFunc(cfg.WorkloadTimeout, cancel)
		start := time.Now()
		var summary string
		var err error
		if wl == WRSS {
			summary, err = rss.finish(wctx, cfg, r, p)
		} else {
			summary, err = runOne(wctx, cfg, r, p, wl, opt)
		}
		bound.Stop()
		cancel()
		switch {
		case errors.Is(err, peers.ErrUnsupported):
			r.notApplicable(wl, p.Name)
			summary = "n/a: " + err.Error()
		case errors.Is(err, errSkipped):
			summary = ""
		case err != nil:
			r.fail(wl, p.Name, err)
			summary = "FAILED: " + err.Error()
		}
		if cfg.Progress != nil && summary != "" {
			fmt.Fprintf(cfg.Progress, "run %d %-7s %-15s %s (%.1fs)\n", run+1, p.Name, wl, summary, time.Since(start).Seconds())
		}
	}
	return nil
}

// errSkipped is a workload that does not apply to a peer.
var errSkipped = errors.New("not measured for this peer")

// idleWorker is the worker whose RSS is read: started, pinged, and left
// idle while the peer's other workloads run.
type idleWorker struct {
	c     peers.Client
	since time.Time
	err   error
}

func startIdle(ctx context.Context, cfg *Config, p peers.Peer) *idleWorker {
	w := &idleWorker{}
	w.c, w.err = p.Start(ctx, cfg.Workers, peers.Options{})
	if w.err != nil {
		return w
	}
	for range cfg.RSSCalls {
		if _, w.err = ping(ctx, w.c); w.err != nil {
			return w
		}
	}
	w.since = time.Now()
	return w
}

func (w *idleWorker) finish(ctx context.Context, cfg *Config, r *Report, p peers.Peer) (string, error) {
	if w.err != nil {
		if w.c != nil {
			w.c.Close()
		}
		return "", w.err
	}
	defer w.c.Close()
	select {
	case <-time.After(cfg.RSSIdle - time.Since(w.since)):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	rss, err := RSS(w.c.PID())
	if err != nil {
		return "", err
	}
	r.add(RowRSS, p.Name, float64(rss)/(1<<20))
	return fmt.Sprintf("%.1f MiB after %.1fs idle", float64(rss)/(1<<20), time.Since(w.since).Seconds()), nil
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

func startCPUProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	profileFile = f
	return nil
}

func stopCPUProfile() {
	if profileFile == nil {
		return
	}
	pprof.StopCPUProfile()
	profileFile.Close()
	profileFile = nil
}

// runOne runs workload wl once for peer p, adds its figures to r and
// returns a one-line summary.
func runOne(ctx context.Context, cfg *Config, r *Report, p peers.Peer, wl string, opt peers.Options) (string, error) {
	switch wl {
	case WEchoFirst:
		d, f, err := FirstEcho(ctx, p, cfg.Workers, NewEchoBlob())
		if err != nil {
			return "", err
		}
		r.add(RowEchoFirst, p.Name, ms(d))
		r.add(RowEchoFirstFaults, p.Name, float64(f.Worker))
		return fmt.Sprintf("%.1f ms, page faults: worker %d, host %d", ms(d), f.Worker, f.Host), nil
	case WStartup:
		ds := make([]time.Duration, 0, cfg.StartupLaunches)
		for range cfg.StartupLaunches {
			d, err := Startup(ctx, p, cfg.Workers)
			if err != nil {
				return "", err
			}
			ds = append(ds, d)
		}
		med := Percentile(ds, 0.5)
		r.add(RowStartup, p.Name, ms(med))
		return fmt.Sprintf("median %.1f ms (min %.1f, max %.1f)", ms(med), ms(ds[0]), ms(ds[len(ds)-1])), nil
	case WStep:
		if p.Name != "iw" {
			return "", errSkipped
		}
	case WPool:
		if p.Name != "iw" {
			return "", fmt.Errorf("%s has no pools: %w", p.Title, peers.ErrUnsupported)
		}
		var sum []string
		for _, spares := range PoolSpares {
			ds, err := CrashToReplacement(ctx, cfg.Workers, spares, cfg.PoolKills)
			if err != nil {
				return "", fmt.Errorf("crash to replacement, %d spare(s): %w", spares, err)
			}
			p50, p99 := Percentile(ds, 0.5), Percentile(ds, 0.99)
			r.add(rowPoolCrash(spares, 50), p.Name, ms(p50))
			r.add(rowPoolCrash(spares, 99), p.Name, ms(p99))
			sum = append(sum, fmt.Sprintf("crash to replacement, %d spare(s): p50 %.1f ms, p99 %.1f ms", spares, ms(p50), ms(p99)))
		}
		start, rss, err := IdlePool(ctx, cfg.Workers, cfg.PoolIdleWorkers)
		if err != nil {
			return "", fmt.Errorf("%d idle workers: %w", cfg.PoolIdleWorkers, err)
		}
		r.add(RowPoolIdleStart, p.Name, start.Seconds())
		r.add(RowPoolIdleRSS, p.Name, float64(rss)/(1<<20))
		sum = append(sum, fmt.Sprintf("%d idle workers: started in %.2f s, %.0f MiB", cfg.PoolIdleWorkers, start.Seconds(), float64(rss)/(1<<20)))
		return strings.Join(sum, "; "), nil
	}

	c, err := p.Start(ctx, cfg.Workers, opt)
	if err != nil {
		return "", err
	}
	defer c.Close()

	switch wl {
	case WLatency:
		var sum []string
		for _, size := range RoundTripSizes {
			lat, err := RoundTrips(ctx, c, Blob(size), cfg.LatencyWarm/max(1, size>>14), cfg.callsFor(size))
			if err != nil {
				return "", fmt.Errorf("%d B: %w", size, err)
			}
			if size == EchoSize {
				// One way: the bytes sent per second of echoing (the same
				// bytes come back in the same time).
				var total time.Duration
				for _, d := range lat {
					total += d
				}
				mbs := float64(len(lat)*size) / 1e6 / total.Seconds()
				r.add(RowEchoMBs, p.Name, mbs)
				sum = append(sum, fmt.Sprintf("1 MiB %.0f MB/s one way", mbs))
			}
			p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)
			r.add(rowRT(size, 50), p.Name, us(p50))
			r.add(rowRT(size, 99), p.Name, us(p99))
			sum = append(sum, fmt.Sprintf("%s %.0f/%.0f us", sizeLabel(size), us(p50), us(p99)))
		}
		return strings.Join(sum, ", "), nil
	case WStep:
		var sum []string
		for _, size := range StepSizes {
			lat, err := RoundTrips(ctx, c, Blob(size), cfg.LatencyWarm/4, cfg.LatencyCalls64K)
			if err != nil {
				return "", fmt.Errorf("%d B: %w", size, err)
			}
			p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)
			r.add(rowStep(size, 50), p.Name, us(p50))
			r.add(rowStep(size, 99), p.Name, us(p99))
			sum = append(sum, fmt.Sprintf("%d %.0f", size, us(p50)))
		}
		return "p50 us: " + strings.Join(sum, ", "), nil
	case WLatencyStruct:
		if _, err := c.PingStruct(ctx, PayloadString); errors.Is(err, peers.ErrUnsupported) {
			return "", err
		}
		lat, err := LatencyStruct(ctx, c, cfg.LatencyWarm, cfg.StructCalls)
		if err != nil {
			return "", err
		}
		p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)
		r.add(RowStructP50, p.Name, us(p50))
		r.add(RowStructP99, p.Name, us(p99))
		return fmt.Sprintf("p50 %.1f us, p99 %.1f us", us(p50), us(p99)), nil
	case WLanes:
		caller, err := peers.ConcurrentCaller(c)
		if err != nil {
			return "", err
		}
		var sum []string
		for _, g := range LaneCounts {
			if _, _, err := Concurrent(ctx, caller, g, cfg.LanesWarm, 0); err != nil {
				return "", fmt.Errorf("%d lanes: %w", g, err)
			}
			n, el, err := Concurrent(ctx, caller, g, cfg.LanesFor, 0)
			if err != nil {
				return "", fmt.Errorf("%d lanes: %w", g, err)
			}
			rate := float64(n) / el.Seconds()
			r.add(rowLanes(g), p.Name, rate)
			sum = append(sum, fmt.Sprintf("%d: %.1fk", g, rate/1000))
		}
		return "msg/s by lanes " + strings.Join(sum, ", "), nil
	}
	return "", fmt.Errorf("unknown workload %q", wl)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
