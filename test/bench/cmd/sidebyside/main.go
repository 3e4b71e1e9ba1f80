// Command sidebyside runs every benchmark workload for every peer in one
// process and prints one table: isolated-workers against hashicorp/go-plugin
// (net/rpc and gRPC) and two raw Unix-socket floors (yamux-multiplexed and
// lock-step), and a table of isolated-workers' pools (go-plugin has none). Each peer is a real worker binary, built into a temporary
// directory first. Every figure is the median of -runs runs, with the
// spread (min-max). Run it from test/bench:
//
//	go run ./cmd/sidebyside
//	go run ./cmd/sidebyside -quick
//	go run ./cmd/sidebyside -peers iw,rawmux -workloads latency,lanes -cpuprofile-iw iw.prof
//
// A second table, "queue", measures the durable job queue end to end on
// the embedded server and on a 3-node loopback cluster (-queue-jobs jobs,
// -queue-runs runs; -queue=false leaves it out; see internal/queuebench).
//
// The results are also written as JSON (default results/latest.json, the
// queue table in results/latest-queue.json) and as markdown
// (results/latest.md, both tables). Every worker is killed at exit, also on
// SIGINT or SIGTERM or when -timeout passes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/peers"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/queuebench"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/workload"
)

func main() {
	os.Exit(run())
}

func run() int {
	quick := false
	for _, a := range os.Args[1:] {
		if a == "-quick" || a == "--quick" || a == "-quick=true" || a == "--quick=true" {
			quick = true
		}
	}
	def := workload.DefaultConfig()
	if quick {
		def = workload.QuickConfig()
	}
	var (
		_            = flag.Bool("quick", false, "fewer runs and calls (about a minute); other flags still apply")
		peerList     = flag.String("peers", "all", "comma-separated peers: iw, netrpc, grpc, rawmux, raw")
		workloadList = flag.String("workloads", "all", "comma-separated workloads: "+strings.Join(workload.Names(), ", "))
		cpuIW        = flag.String("cpuprofile-iw", "", "write this process's CPU profile during iw's profiled workloads to `file`")
		cpuIWWhich   = flag.String("cpuprofile-iw-workloads", strings.Join(def.CPUProfileIWWorkloads, ","), "iw workloads -cpuprofile-iw covers (they run first for iw)")
		cpuIWWorker  = flag.String("cpuprofile-iw-worker", "", "make the iw worker of each profiled workload write its CPU profile to `prefix`.<workload>")
		jsonOut      = flag.String("json", "results/latest.json", "write the results as JSON to `file` (\"\" for none)")
		mdOut        = flag.String("md", "results/latest.md", "write the tables as markdown to `file` (\"\" for none)")
		timeout      = flag.Duration("timeout", 10*time.Minute, "give up, kill every worker and exit 2 after this long")
		quiet        = flag.Bool("q", false, "no progress lines, only the table")
	)
	flag.IntVar(&def.Runs, "runs", def.Runs, "runs of every workload per peer; each figure is their median")
	flag.IntVar(&def.StartupLaunches, "startup-n", def.StartupLaunches, "launches per peer and run for start-up")
	flag.IntVar(&def.LatencyCalls, "latency-n", def.LatencyCalls, "measured sequential calls of 32 B and 1 KiB, per run")
	flag.IntVar(&def.LatencyCalls64K, "latency-n-64k", def.LatencyCalls64K, "measured sequential calls of 64 KiB (and each step size), per run")
	flag.IntVar(&def.LatencyCalls1M, "latency-n-1m", def.LatencyCalls1M, "measured sequential 1 MiB echoes, per run")
	flag.IntVar(&def.StructCalls, "struct-n", def.StructCalls, "measured sequential struct calls, per run")
	flag.DurationVar(&def.LanesFor, "lanes-for", def.LanesFor, "measured time of each lane count, per run")
	flag.IntVar(&def.PoolKills, "pool-kills", def.PoolKills, "kills of a pool's worker per run, without and with a spare (crash to replacement)")
	flag.IntVar(&def.PoolIdleWorkers, "pool-idle", def.PoolIdleWorkers, "workers of the idle pool (start time, total RSS)")
	qcfg := queuebench.Config{Jobs: queuebench.DefaultJobs, Runs: queuebench.DefaultRuns}
	if quick {
		qcfg.Jobs, qcfg.Runs = 2000, 1
	}
	withQueue := flag.Bool("queue", true, "also run the queue table (embedded server and a 3-node loopback cluster)")
	flag.IntVar(&qcfg.Jobs, "queue-jobs", qcfg.Jobs, "jobs per queue run")
	flag.IntVar(&qcfg.Runs, "queue-runs", qcfg.Runs, "runs of each queue mode; each figure is their median")
	flag.Parse()

	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		return 1
	}
	cfg := def
	var err error
	if cfg.Peers, err = peers.Select(*peerList); err != nil {
		return fail(err)
	}
	if cfg.Workloads, err = workload.SelectWorkloads(*workloadList); err != nil {
		return fail(err)
	}
	if cfg.CPUProfileIWWorkloads, err = workload.SelectWorkloads(*cpuIWWhich); err != nil {
		return fail(err)
	}
	cfg.CPUProfileIW, cfg.WorkerCPUProfileIW = *cpuIW, *cpuIWWorker
	if !*quiet {
		cfg.Progress = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The watchdog: past the timeout, kill whatever is left and leave.
	watchdog := time.AfterFunc(*timeout, func() {
		n := peers.KillAll()
		fmt.Fprintf(os.Stderr, "sidebyside: gave up after %v; killed %d worker(s)\n", *timeout, n)
		os.Exit(2)
	})
	defer watchdog.Stop()
	defer peers.KillAll() // nothing should be left; belt and braces
	// A second signal while the run unwinds kills at once.
	go func() {
		<-ctx.Done()
		hard := make(chan os.Signal, 1)
		signal.Notify(hard, syscall.SIGINT, syscall.SIGTERM)
		select {
		case <-hard:
		case <-time.After(10 * time.Second):
		}
		peers.KillAll()
		os.Exit(130)
	}()

	start := time.Now()
	if !*quiet {
		fmt.Fprintln(os.Stderr, "building worker binaries...")
	}
	cfg.Workers, err = peers.Build(ctx)
	if err != nil {
		return fail(err)
	}
	defer cfg.Workers.Remove()

	report, err := workload.Run(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	fmt.Println()
	report.WriteTable(os.Stdout)
	if *jsonOut != "" {
		if err := report.WriteJSON(*jsonOut); err != nil {
			return fail(err)
		}
		fmt.Printf("results written to %s (run took %.0fs)\n", *jsonOut, time.Since(start).Seconds())
	}
	if *mdOut != "" {
		if err := report.WriteMarkdownFile(*mdOut); err != nil {
			return fail(err)
		}
		fmt.Printf("markdown tables written to %s\n", *mdOut)
	}
	var qreport *queuebench.Report
	if *withQueue {
		if qreport, err = runQueue(ctx, qcfg, cfg.Workers, *quiet, *jsonOut, *mdOut); err != nil {
			return fail(err)
		}
	}
	if cfg.CPUProfileIW != "" {
		fmt.Printf("iw host CPU profile (%s): go tool pprof -top %s\n", strings.Join(cfg.CPUProfileIWWorkloads, ", "), cfg.CPUProfileIW)
	}
	if n := peers.Live(); n > 0 {
		return fail(fmt.Errorf("%d worker process(es) still running at the end", n))
	}
	if len(report.Failures()) > 0 || qreport != nil && len(qreport.Failures) > 0 {
		return 1
	}
	return 0
}

// runQueue runs the queue table, prints it, and writes it next to the
// main results (JSON in its own file, markdown appended).
func runQueue(ctx context.Context, qcfg queuebench.Config, w *peers.Workers, quiet bool, jsonOut, mdOut string) (*queuebench.Report, error) {
	qcfg.WorkerBin = w.Path("iw")
	if !quiet {
		qcfg.Progress = os.Stderr
	}
	r, err := queuebench.Run(ctx, qcfg)
	if err != nil {
		return nil, err
	}
	fmt.Println()
	r.WriteTable(os.Stdout)
	if jsonOut != "" {
		path := strings.TrimSuffix(jsonOut, ".json") + "-queue.json"
		if err := r.WriteJSON(path); err != nil {
			return nil, err
		}
		fmt.Printf("queue results written to %s\n", path)
	}
	if mdOut != "" {
		f, err := os.OpenFile(mdOut, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := r.WriteMarkdown(f); err != nil {
			return nil, err
		}
	}
	return r, nil
}
