// Command handoffs finds where a round trip's time goes: it runs one
// workload against a fresh worker with an execution trace (runtime/trace)
// in both processes, and counts, per round trip, every time a goroutine
// was woken, by whom, where it had blocked, whether it then ran on another
// P than its waker's, and how long it waited to run. Run it from
// test/bench:
//
//	go run ./cmd/handoffs                       # iw, 32 B pings and 1 MiB echoes
//	go run ./cmd/handoffs -peer rawmux -n 5000  # the yamux floor, for comparison
//	go run ./cmd/handoffs -first                # also the first 1 MiB echo on fresh workers
//
// GOMAXPROCS in the environment applies to both processes. The traces are
// kept in -dir for go tool trace.
package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"slices"
	"strings"
	"time"

	xtrace "golang.org/x/exp/trace"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/peers"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/workload"
)

func main() {
	var (
		peerName = flag.String("peer", "iw", "peer: iw or rawmux (both trace their worker too), or any other (host side only)")
		n        = flag.Int("n", 3000, "measured 32 B round trips")
		echoes   = flag.Int("echoes", 30, "measured 1 MiB echoes")
		first    = flag.Int("first", 0, "also trace the first 1 MiB echo on this many fresh workers")
		dir      = flag.String("dir", filepath.Join(os.TempDir(), "iw-handoffs"), "keep the traces in `dir`")
		top      = flag.Int("top", 14, "show the most frequent `k` wake-up sites per process")
	)
	flag.Parse()
	if err := run(*peerName, *n, *echoes, *first, *dir, *top); err != nil {
		fmt.Fprintln(os.Stderr, "handoffs:", err)
		os.Exit(1)
	}
}

func run(peerName string, n, echoes, first int, dir string, top int) error {
	ps, err := peers.Select(peerName)
	if err != nil || len(ps) != 1 {
		return fmt.Errorf("peer %q: %v", peerName, err)
	}
	p := ps[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx := context.Background()
	w, err := peers.Build(ctx)
	if err != nil {
		return err
	}
	defer w.Remove()
	fmt.Printf("peer %s, GOMAXPROCS=%d (env %q), nproc %d, %s\n", p.Name, runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS"), runtime.NumCPU(), runtime.Version())

	type phase struct {
		name  string
		warm  int
		calls int
		blob  []byte
		fresh bool
	}
	phases := []phase{
		{"ping32", 300, n, workload.Payload, false},
		{"echo1MiB", 3, echoes, workload.NewEchoBlob(), false},
	}
	for i := range first {
		phases = append(phases, phase{fmt.Sprintf("first-echo-%d", i), 0, 1, workload.NewEchoBlob(), true})
	}
	for _, ph := range phases {
		hostTrace := filepath.Join(dir, p.Name+"-"+ph.name+"-host.trace")
		workerTrace := filepath.Join(dir, p.Name+"-"+ph.name+"-worker.trace")
		os.Remove(workerTrace)
		c, err := p.Start(ctx, w, peers.Options{WorkerTrace: workerTrace})
		if err != nil {
			return err
		}
		if ph.fresh {
			if _, err := c.Ping(ctx, workload.Payload); err != nil {
				c.Close()
				return err
			}
		} else if _, err := workload.RoundTrips(ctx, c, ph.blob, ph.warm, 0); err != nil {
			c.Close()
			return err
		}
		f, err := os.Create(hostTrace)
		if err != nil {
			c.Close()
			return err
		}
		w0 := workload.MinorFaults(c.PID())
		if err := trace.Start(f); err != nil {
			c.Close()
			return err
		}
		from := time.Now()
		lat, err := workload.RoundTrips(ctx, c, ph.blob, 0, ph.calls)
		to := time.Now()
		trace.Stop()
		f.Close()
		faults := workload.MinorFaults(c.PID()) - w0
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		var total time.Duration
		for _, d := range lat {
			total += d
		}
		fmt.Printf("\n== %s: %d round trips of %d B, mean %.1f us, p50 %.1f us (traced: slower than untraced); worker minor faults %d\n",
			ph.name, ph.calls, len(ph.blob), float64(total)/float64(ph.calls)/1e3, float64(workload.Percentile(lat, 0.5))/1e3, faults)
		for _, side := range []struct{ name, path string }{{"host", hostTrace}, {"worker", workerTrace}} {
			st, err := analyse(side.path, from, to)
			if err != nil {
				fmt.Printf("-- %s: %v\n", side.name, err)
				continue
			}
			st.print(side.name, ph.calls, top)
		}
	}
	fmt.Printf("\ntraces in %s (go tool trace FILE)\n", dir)
	return nil
}

// site is one kind of wake-up: where the woken goroutine had blocked, and
// who woke it (a goroutine's frame, or the netpoller/scheduler).
type site struct{ blocked, waker string }

type siteStats struct {
	count, crossP, waited int
	wait                  time.Duration // from wake-up to running
}

type stats struct {
	sites       map[site]*siteStats
	running     time.Duration // goroutine running time in the window, summed
	gcs, blocks int
}

type goState struct {
	blockedAt string
	wokenAt   xtrace.Time
	wokenOn   xtrace.ProcID
	woken     bool
	key       site
	ranSince  xtrace.Time
	running   bool
}

// analyse reads a trace and counts wake-ups inside the wall-clock window
// [from, to] (mapped with the trace's clock snapshots; a trace without
// them is counted whole).
func analyse(path string, from, to time.Time) (*stats, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := xtrace.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	st := &stats{sites: map[site]*siteStats{}}
	gs := map[xtrace.GoID]*goState{}
	g := func(id xtrace.GoID) *goState {
		s := gs[id]
		if s == nil {
			s = &goState{blockedAt: "(blocked before the trace)"}
			gs[id] = s
		}
		return s
	}
	var snap *xtrace.ClockSnapshot
	inWindow := func(t xtrace.Time) bool {
		if snap == nil {
			return true
		}
		wall := snap.Wall.Add(time.Duration(t - snap.Trace))
		return !wall.Before(from) && !wall.After(to)
	}
	for {
		ev, err := r.ReadEvent()
		if err != nil {
			break // io.EOF, or a trace cut short at exit
		}
		switch ev.Kind() {
		case xtrace.EventSync:
			if s := ev.Sync().ClockSnapshot; s != nil {
				snap = s
			}
			continue
		case xtrace.EventRangeBegin:
			if inWindow(ev.Time()) && strings.Contains(ev.Range().Name, "GC") {
				st.gcs++
			}
			continue
		case xtrace.EventStateTransition:
		default:
			continue
		}
		tr := ev.StateTransition()
		if tr.Resource.Kind != xtrace.ResourceGoroutine {
			continue
		}
		id := tr.Resource.Goroutine()
		from, to := tr.Goroutine()
		s := g(id)
		in := inWindow(ev.Time())
		switch {
		case to == xtrace.GoWaiting:
			s.blockedAt = frames(ev.Stack(), tr.Reason)
			if in {
				st.blocks++
			}
		case from == xtrace.GoWaiting && to == xtrace.GoRunnable:
			waker := "netpoll/scheduler"
			if ev.Goroutine() != xtrace.NoGoroutine {
				waker = frames(ev.Stack(), "")
			}
			s.key = site{s.blockedAt, waker}
			s.woken, s.wokenAt, s.wokenOn = in, ev.Time(), ev.Proc()
		case to == xtrace.GoRunning:
			if s.woken {
				ss := st.sites[s.key]
				if ss == nil {
					ss = &siteStats{}
					st.sites[s.key] = ss
				}
				ss.count++
				if s.wokenOn != ev.Proc() {
					ss.crossP++
				}
				ss.wait += time.Duration(ev.Time() - s.wokenAt)
				ss.waited++
				s.woken = false
			}
			s.running, s.ranSince = true, ev.Time()
		}
		if from == xtrace.GoRunning && to != xtrace.GoRunning && s.running {
			if in {
				st.running += time.Duration(ev.Time() - s.ranSince)
			}
			s.running = false
		}
	}
	return st, nil
}

// frames names a stack by its first frames outside the runtime and the
// standard library's synchronisation, outermost goroutine function last.
func frames(stk xtrace.Stack, reason string) string {
	var fns []string
	for f := range stk.Frames() {
		fns = append(fns, f.Func)
	}
	var out []string
	for _, fn := range fns {
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "sync.") || strings.HasPrefix(fn, "internal/") ||
			strings.HasPrefix(fn, "time.") || strings.HasPrefix(fn, "net.") || strings.HasPrefix(fn, "os.") || strings.HasPrefix(fn, "syscall.") {
			continue
		}
		out = append(out, short(fn))
		if len(out) == 2 {
			break
		}
	}
	if len(fns) > 0 {
		if root := short(fns[len(fns)-1]); len(out) == 0 || out[len(out)-1] != root {
			out = append(out, "... "+root)
		}
	}
	s := strings.Join(out, " < ")
	if reason != "" {
		s = "[" + reason + "] " + s
	}
	if s == "" {
		return "?"
	}
	return s
}

func short(fn string) string {
	fn = strings.TrimPrefix(fn, "github.com/isolated-workers/isolated-workers-go/")
	fn = strings.TrimPrefix(fn, "github.com/hashicorp/")
	return fn
}

func (st *stats) print(side string, calls, top int) {
	type row struct {
		site
		*siteStats
	}
	var rows []row
	total, cross := 0, 0
	var wait time.Duration
	for k, v := range st.sites {
		rows = append(rows, row{k, v})
		total += v.count
		cross += v.crossP
		wait += v.wait
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.count, a.count) })
	per := float64(calls)
	fmt.Printf("-- %s: %.2f wake-ups per round trip (%.2f onto another P), %.1f us waiting to run and %.1f us running per round trip, %d GC cycles\n",
		side, float64(total)/per, float64(cross)/per, float64(wait)/per/1e3, float64(st.running)/per/1e3, st.gcs)
	fmt.Printf("   %7s %7s %9s  %s\n", "per RT", "cross-P", "wait us", "woken goroutine blocked at  <=  woken by")
	for i, r := range rows {
		if i == top {
			break
		}
		fmt.Printf("   %7.2f %6.0f%% %9.1f  %s  <=  %s\n", float64(r.count)/per, 100*float64(r.crossP)/float64(r.count),
			float64(r.wait)/float64(max(r.waited, 1))/1e3, r.blocked, r.waker)
	}
}
