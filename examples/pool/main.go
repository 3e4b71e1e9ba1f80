// Command pool is a host that runs four workers in a host.Pool under a
// steady load of calls while it kills one worker every second, freezes one
// (the health check finds it and replaces it), and upgrades the pool to a
// new release of the worker, then prints what the supervisor did and the
// call counts: every call of the idempotent Work message succeeds, because
// the pool re-sends a call whose worker died under it (WithCrashRetry).
// The pool's OpenTelemetry metrics go to a Prometheus exporter; the
// example prints a few lines of its /metrics page at the end, or keeps
// serving it with -serve. It checks what it shows and exits with status 1
// if something is not what it expects.
//
//	go build -o bin/pool-worker ./examples/pool/worker
//	go run ./examples/pool -worker bin/pool-worker
//	go run ./examples/pool -worker bin/pool-worker -serve localhost:9464
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/pool/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// The scenario.
const (
	poolSize  = 4
	callers   = 8 // goroutines calling Work in a loop
	killEvery = time.Second
	freezeAt  = 1500 * time.Millisecond // after the start of the load
	// The health check: a ping every 100 ms, 3 missed in a row mark a
	// worker unhealthy (the defaults, 10 s and 3, take 30 s).
	healthInterval = 100 * time.Millisecond
	healthFailures = 3
	// The intensity limit: this example restarts 5 workers on purpose in a
	// few seconds, which the default (5 in 30 s) would just allow; leave it
	// room.
	maxRestarts = 10
)

func main() {
	workerPath := flag.String("worker", "bin/pool-worker", "path to the worker binary")
	kills := flag.Int("kills", 4, "workers to kill, one every second")
	serve := flag.String("serve", "", "after the run, keep serving /metrics at this address (e.g. localhost:9464) until interrupted")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath, *kills, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "pool:", err)
		os.Exit(1)
	}
	c.Exit()
}

// say prints one line of the timeline, with the time since the start.
type say struct {
	mu    sync.Mutex
	start time.Time
}

func (s *say) f(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("%6.2fs  %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

// supervisor counts the pool's events and wakes whoever waits for one.
type supervisor struct {
	out     *say
	quiet   atomic.Bool
	mu      sync.Mutex
	counts  map[string]int // "kind reason"
	changed chan struct{}
}

func (s *supervisor) on(ev host.PoolEvent) {
	if s.quiet.Load() {
		return
	}
	line := fmt.Sprintf("supervisor: %-16s %-8s pid %-6d %s", ev.Kind, ev.Worker, ev.PID, ev.Reason)
	if ev.Err != nil {
		line += " (" + ev.Err.Error() + ")"
	}
	s.out.f("%s", line)
	s.mu.Lock()
	s.counts[ev.Kind.String()+" "+ev.Reason]++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *supervisor) count(kind host.PoolEventKind, reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind.String()+" "+reason]
}

// wait waits until the supervisor has reported kind with reason n times,
// up to 10 s.
func (s *supervisor) wait(kind host.PoolEventKind, reason string, n int) error {
	timeout := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		got, ch := s.counts[kind.String()+" "+reason], s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-timeout:
			return fmt.Errorf("%d of %d %s events (%s) after 10 s", got, n, kind, reason)
		}
	}
}

// load is the steady stream of calls.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	next     atomic.Int64
	upgraded atomic.Bool // set when Upgrade has returned
	mu       sync.Mutex
	ok       map[string]int // replies by worker version
	okAfter  map[string]int // replies by version, to calls sent after the upgrade
	failed   []error
	wrong    int
}

func (l *load) run(p *host.Pool) {
	for range callers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				after := l.upgraded.Load()
				n := int(l.next.Add(1))
				res, err := host.Call(context.Background(), p, protocol.Work, protocol.WorkReq{N: n})
				l.mu.Lock()
				switch {
				case err != nil:
					l.failed = append(l.failed, err)
				case res.N != n || res.Hash != protocol.Hash(n):
					l.wrong++
				default:
					l.ok[res.Version]++
					if after {
						l.okAfter[res.Version]++
					}
				}
				l.mu.Unlock()
			}
		})
	}
}

func run(c *check.Checker, workerPath string, kills int, serve string) error {
	ctx := context.Background()
	out := &say{start: time.Now()}

	// Metrics: the pool's instruments, through an OpenTelemetry SDK
	// MeterProvider, to a Prometheus registry served at /metrics.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(ctx)
	addr := serve
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	sup := &supervisor{out: out, counts: map[string]int{}, changed: make(chan struct{})}
	p, err := host.NewPool(ctx, host.PoolConfig{
		Worker: host.Config{
			Cmd:         exec.Command(workerPath),
			Handshake:   protocol.Handshake,
			Name:        "pool",
			CallTimeout: 10 * time.Second,
			// The kills and the freeze are on purpose: keep the host's own
			// warnings about them out of the timeline.
			Logger: hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Error, Output: os.Stderr}),
		},
		Size:           poolSize,
		HealthInterval: healthInterval,
		HealthFailures: healthFailures,
		MaxRestarts:    maxRestarts,
		MeterProvider:  mp,
		OnEvent:        sup.on,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	out.f("pool of %d workers started; %d callers call Work (WithCrashRetry(%d)) in a loop", poolSize, callers, protocol.Work.CrashRetries())

	l := &load{stop: make(chan struct{}), ok: map[string]int{}, okAfter: map[string]int{}}
	l.run(p)

	// The killer: SIGKILL a random ready worker every second. It pauses
	// while the upgrade moves the pool, so that each kill is a crash the
	// supervisor restarts (not a retired worker it lets go).
	var moving sync.Mutex
	var frozen atomic.Int64
	killed := make(chan error, 1)
	go func() {
		t := time.NewTicker(killEvery)
		defer t.Stop()
		var pids []int
		for range kills {
			<-t.C
			moving.Lock()
			pid, err := killOne(p, int(frozen.Load()), pids, out)
			pids = append(pids, pid)
			moving.Unlock()
			if err != nil {
				killed <- err
				return
			}
		}
		killed <- nil
	}()

	// The freeze: a worker stops answering; the health check finds it.
	<-time.After(freezeAt)
	moving.Lock() // not the worker the killer picks
	victim, err := pick(p, 0)
	if err == nil {
		err = freeze(victim.PID)
		frozen.Store(int64(victim.PID))
	}
	moving.Unlock()
	if err != nil {
		return err
	}
	out.f("freeze %s (pid %d, SIGSTOP): it answers nothing, not even pings", victim.Name, victim.PID)
	if err := sup.wait(host.EventWorkerStarted, host.ReasonUnhealthy, 1); err != nil {
		return err
	}

	// The upgrade: the same binary as release v2.
	out.f("upgrade the pool to v2 (a rolling restart under load)")
	moving.Lock()
	err = p.Upgrade(ctx, func() *exec.Cmd {
		cmd := exec.Command(workerPath)
		cmd.Env = append(os.Environ(), protocol.VersionEnv+"=v2")
		return cmd
	})
	l.upgraded.Store(true)
	moving.Unlock()
	if err != nil {
		return err
	}
	out.f("upgrade done: every worker runs v2")

	if err := <-killed; err != nil {
		return err
	}
	if err := sup.wait(host.EventWorkerStarted, host.ReasonCrash, kills); err != nil {
		return err
	}
	close(l.stop)
	l.wg.Wait()
	out.f("load stopped")
	sup.quiet.Store(true) // the pool's close is not news

	// What happened.
	s := p.Stats()
	l.mu.Lock()
	total := l.ok["v1"] + l.ok["v2"]
	fmt.Printf("\ncalls: %d succeeded (%d on v1, %d on v2), %d failed, %d wrong replies; %d re-sent after their worker died\n",
		total, l.ok["v1"], l.ok["v2"], len(l.failed), l.wrong, s.CrashRetries)
	fmt.Printf("supervisor: %d crash restarts (%d kills), %d unhealthy replaced, %d workers upgraded; %d ready, state %v\n",
		s.Restarts[host.ReasonCrash], kills, s.Restarts[host.ReasonUnhealthy],
		sup.count(host.EventWorkerStarted, host.ReasonUpgrade), s.Workers[host.WorkerReady], s.State)
	c.That(len(l.failed) == 0, "%d calls failed (first: %v), want none: Work is retried after a crash", len(l.failed), errors.Join(l.failed...))
	c.That(l.wrong == 0, "%d wrong replies, want none", l.wrong)
	c.That(l.ok["v1"] > 0 && l.ok["v2"] > 0, "replies v1 %d, v2 %d: want some of each", l.ok["v1"], l.ok["v2"])
	c.That(l.okAfter["v1"] == 0, "%d calls sent after the upgrade ran on v1, want none", l.okAfter["v1"])
	l.mu.Unlock()
	c.That(s.Restarts[host.ReasonCrash] == uint64(kills), "crash restarts %d, want %d (one per kill)", s.Restarts[host.ReasonCrash], kills)
	c.That(s.Restarts[host.ReasonUnhealthy] == 1 && sup.count(host.EventWorkerUnhealthy, host.ReasonUnhealthy) == 1,
		"unhealthy restarts %d, want 1 (the frozen worker)", s.Restarts[host.ReasonUnhealthy])
	c.That(sup.count(host.EventWorkerStarted, host.ReasonUpgrade) == poolSize, "upgraded workers %d, want %d", sup.count(host.EventWorkerStarted, host.ReasonUpgrade), poolSize)
	c.That(s.Workers[host.WorkerReady] == poolSize && s.State == host.PoolRunning, "%d ready workers in state %v, want %d running", s.Workers[host.WorkerReady], s.State, poolSize)

	// The same numbers as Prometheus scrapes them.
	url := "http://" + ln.Addr().String() + "/metrics"
	lines, err := scrape(url, "isolated_workers_pool_calls_total", "isolated_workers_pool_restarts_total",
		"isolated_workers_pool_crash_retries_total", "isolated_workers_pool_workers", "rpc_client_call_duration_seconds_count")
	if err != nil {
		return err
	}
	fmt.Printf("\nGET %s (excerpt, zero series left out):\n", url)
	for _, line := range lines {
		fmt.Println("  " + line)
	}
	okLine := fmt.Sprintf(`isolated_workers_pool_calls_total{isolated_workers_call_outcome="ok",isolated_workers_pool_name="pool"} %d`, total)
	crashLine := fmt.Sprintf(`isolated_workers_pool_restarts_total{isolated_workers_pool_name="pool",isolated_workers_restart_reason="crash"} %d`, kills)
	c.That(contains(lines, okLine), "/metrics has no line %q", okLine)
	c.That(contains(lines, crashLine), "/metrics has no line %q", crashLine)

	if serve != "" {
		fmt.Printf("\nserving %s until interrupted (Ctrl-C)\n", url)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
	}
	return nil
}

// pick returns a random ready worker whose pid is not one of not.
func pick(p *host.Pool, not ...int) (host.PoolWorker, error) {
	var ready []host.PoolWorker
	for _, w := range p.Workers() {
		if w.State == host.WorkerReady && !slices.Contains(not, w.PID) {
			ready = append(ready, w)
		}
	}
	if len(ready) == 0 {
		return host.PoolWorker{}, errors.New("no ready worker to pick")
	}
	return ready[rand.IntN(len(ready))], nil
}

// killOne kills a random ready worker: not the frozen one, and not one
// killed before (the pool may still list a worker it has not yet seen die:
// a tick that waited for the upgrade can come right after the last kill).
func killOne(p *host.Pool, frozen int, killed []int, out *say) (int, error) {
	w, err := pick(p, append(killed, frozen)...)
	if err != nil {
		return 0, err
	}
	proc, err := os.FindProcess(w.PID)
	if err != nil {
		return 0, err
	}
	out.f("kill -9 %s (pid %d)", w.Name, w.PID)
	return w.PID, proc.Kill()
}

// scrape fetches url and returns its non-zero sample lines whose metric
// name starts with one of prefixes.
func scrape(url string, prefixes ...string) ([]string, error) {
	res, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var lines []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasSuffix(line, " 0") {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				lines = append(lines, line)
				break
			}
		}
	}
	return lines, sc.Err()
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
