// Package queuebench measures the durable job queue (package queue) end to
// end, for the side-by-side report's "queue" table: jobs per second from
// the first Enqueue to the last COMPLETED, and the latency of a confirmed
// Enqueue (p50, p99), for small jobs consumed over a host.Pool of real iw
// bench workers. It runs on the embedded server (file storage in a
// temporary directory) and on a 3-node loopback cluster with every stream
// replicated 3 times. Each run opens a fresh store or cluster.
//
// The jobs are enqueued one after another by one goroutine while one
// Consume runs them (each job is one Echo call of its payload on the
// pool); status events go to the benchmark only (not stored), so the
// figures are the queue's own cost: a confirmed publish per job, a pull,
// a call and a confirmed acknowledgement.
package queuebench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/queue"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/iwproto"
)

// Modes.
const (
	Embedded = "embedded"
	Cluster  = "cluster"
)

// Defaults for Config (the benchmark: 10,000 small jobs on a pool
// of 2 workers).
const (
	DefaultJobs      = 10000
	DefaultRuns      = 3
	DefaultPoolSize  = 2
	DefaultPerWorker = 4 // jobs one worker runs at once
	// DefaultRunTimeout bounds one run (a cluster start, the jobs, the
	// stop).
	DefaultRunTimeout = 5 * time.Minute
)

// payload is a small job's payload (and its Echo).
var payload = []byte("small job payload: 32 bytes....")

// Config configures Run. A zero field means its default.
type Config struct {
	WorkerBin  string   // the iw bench worker binary (required)
	Modes      []string // default: Embedded, Cluster
	Jobs       int
	Runs       int
	PoolSize   int
	PerWorker  int
	RunTimeout time.Duration
	Progress   io.Writer // progress lines; nil: none
}

// Row is one figure of one mode over the runs.
type Row struct {
	Mode   string    `json:"mode"`
	Metric string    `json:"metric"`
	Unit   string    `json:"unit"`
	Runs   []float64 `json:"runs"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

// Metrics, in table order.
const (
	MetricJobsPerSec = "Enqueue to COMPLETED"
	MetricEnqueueP50 = "Enqueue p50"
	MetricEnqueueP99 = "Enqueue p99"
)

// Report is the queue table.
type Report struct {
	Jobs      int      `json:"jobs"`
	PoolSize  int      `json:"poolSize"`
	PerWorker int      `json:"perWorker"`
	Runs      int      `json:"runs"`
	Rows      []*Row   `json:"rows"`
	Failures  []string `json:"failures,omitempty"`
}

// Get returns the row of mode and metric, or nil.
func (r *Report) Get(mode, metric string) *Row {
	for _, row := range r.Rows {
		if row.Mode == mode && row.Metric == metric {
			return row
		}
	}
	return nil
}

func (c *Config) setDefaults() {
	if len(c.Modes) == 0 {
		c.Modes = []string{Embedded, Cluster}
	}
	if c.Jobs == 0 {
		c.Jobs = DefaultJobs
	}
	if c.Runs == 0 {
		c.Runs = DefaultRuns
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.PerWorker == 0 {
		c.PerWorker = DefaultPerWorker
	}
	if c.RunTimeout == 0 {
		c.RunTimeout = DefaultRunTimeout
	}
}

// Run runs every mode cfg.Runs times. A failed run is recorded in the
// report's Failures (its cells stay empty); Run returns an error only
// when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if cfg.WorkerBin == "" {
		return nil, fmt.Errorf("queue bench: Config.WorkerBin is required")
	}
	r := &Report{Jobs: cfg.Jobs, PoolSize: cfg.PoolSize, PerWorker: cfg.PerWorker, Runs: cfg.Runs}
	for _, mode := range cfg.Modes {
		rows := map[string]*Row{}
		for _, m := range []struct{ name, unit string }{{MetricJobsPerSec, "jobs/s"}, {MetricEnqueueP50, "us"}, {MetricEnqueueP99, "us"}} {
			rows[m.name] = &Row{Mode: mode, Metric: m.name, Unit: m.unit}
			r.Rows = append(r.Rows, rows[m.name])
		}
		for run := range cfg.Runs {
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "queue %s: run %d of %d, %d jobs\n", mode, run+1, cfg.Runs, cfg.Jobs)
			}
			rctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
			res, err := runOnce(rctx, cfg, mode)
			cancel()
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			if err != nil {
				r.Failures = append(r.Failures, fmt.Sprintf("queue %s, run %d: %v", mode, run+1, err))
				continue
			}
			rows[MetricJobsPerSec].Runs = append(rows[MetricJobsPerSec].Runs, res.jobsPerSec)
			rows[MetricEnqueueP50].Runs = append(rows[MetricEnqueueP50].Runs, res.p50)
			rows[MetricEnqueueP99].Runs = append(rows[MetricEnqueueP99].Runs, res.p99)
		}
	}
	for _, row := range r.Rows {
		if len(row.Runs) == 0 {
			continue
		}
		s := slices.Sorted(slices.Values(row.Runs))
		row.Min, row.Max = s[0], s[len(s)-1]
		row.Median = s[len(s)/2]
		if len(s)%2 == 0 {
			row.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
	}
	return r, nil
}

type result struct {
	jobsPerSec, p50, p99 float64
}

func runOnce(ctx context.Context, cfg Config, mode string) (result, error) {
	var qcfg queue.Config
	switch mode {
	case Embedded:
		dir, err := os.MkdirTemp("", "iw-queue-bench-")
		if err != nil {
			return result{}, err
		}
		defer os.RemoveAll(dir)
		qcfg = queue.Config{StoreDir: dir}
	case Cluster:
		c, err := startCluster(3)
		if err != nil {
			return result{}, err
		}
		defer c.shutdown()
		qcfg = queue.Config{URLs: c.urls(), Replicas: 3}
	default:
		return result{}, fmt.Errorf("no queue bench mode %q (have %s, %s)", mode, Embedded, Cluster)
	}
	q, err := queue.Open(ctx, qcfg)
	if err != nil {
		return result{}, err
	}
	defer q.Close()

	pool, err := host.NewPool(ctx, host.PoolConfig{
		Worker:      host.Config{Cmd: exec.Command(cfg.WorkerBin), Handshake: iwproto.Handshake, Name: "queue-bench"},
		Size:        cfg.PoolSize,
		MaxInFlight: cfg.PerWorker,
	})
	if err != nil {
		return result{}, err
	}
	defer pool.Close()

	completed := make(chan struct{}, cfg.Jobs)
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		consumed <- q.Consume(cctx, queue.ConsumerConfig{
			MaxInFlight: cfg.PoolSize * cfg.PerWorker,
			FetchWait:   100 * time.Millisecond,
			Capacity: func() int {
				free := 0
				for _, w := range pool.Workers() {
					if w.State == host.WorkerReady {
						free += cfg.PerWorker - w.InFlight
					}
				}
				return free
			},
			Status: status.PublisherFunc(func(ev status.Event) {
				if ev.Status == status.Completed {
					completed <- struct{}{}
				}
			}),
			Handler: func(ctx context.Context, job queue.Job) error {
				_, err := host.Call(ctx, pool, iwproto.Echo, job.Payload)
				return err
			},
		})
	}()
	defer func() { stop(); <-consumed }()

	lat := make([]time.Duration, 0, cfg.Jobs)
	start := time.Now()
	for i := range cfg.Jobs {
		t0 := time.Now()
		if _, err := q.Enqueue(ctx, queue.Job{ID: "j" + strconv.Itoa(i), Type: "bench", Payload: payload}); err != nil {
			return result{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	for i := range cfg.Jobs {
		select {
		case <-completed:
		case err := <-consumed:
			consumed <- err
			return result{}, fmt.Errorf("consume ended after %d of %d jobs: %w", i, cfg.Jobs, err)
		case <-ctx.Done():
			return result{}, fmt.Errorf("%d of %d jobs completed: %w", i, cfg.Jobs, ctx.Err())
		}
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	return result{
		jobsPerSec: float64(cfg.Jobs) / elapsed.Seconds(),
		p50:        us(lat[len(lat)/2]),
		p99:        us(lat[len(lat)*99/100]),
	}, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// modeTitle names a mode's column.
func modeTitle(mode string) string {
	switch mode {
	case Embedded:
		return "embedded server"
	case Cluster:
		return "3-node loopback cluster"
	}
	return mode
}

func (r *Report) modes() []string {
	var out []string
	for _, row := range r.Rows {
		if !slices.Contains(out, row.Mode) {
			out = append(out, row.Mode)
		}
	}
	return out
}

// Title is the table's heading line.
func (r *Report) Title() string {
	return fmt.Sprintf("queue: %d small jobs, Enqueue to COMPLETED, on a pool of %d workers (%d jobs each at once); median of %d runs (min-max)",
		r.Jobs, r.PoolSize, r.PerWorker, r.Runs)
}

// cells returns the table: a header row, then one row per metric.
func (r *Report) cells() [][]string {
	modes := r.modes()
	head := []string{"queue"}
	for _, m := range modes {
		head = append(head, modeTitle(m))
	}
	out := [][]string{head}
	for _, metric := range []string{MetricJobsPerSec, MetricEnqueueP50, MetricEnqueueP99} {
		var line []string
		for _, m := range modes {
			row := r.Get(m, metric)
			if len(line) == 0 {
				line = append(line, metric+" ("+row.Unit+")")
			}
			if len(row.Runs) == 0 {
				line = append(line, "FAILED")
				continue
			}
			line = append(line, fmt.Sprintf("%s (%s-%s)", num(row.Median), num(row.Min), num(row.Max)))
		}
		out = append(out, line)
	}
	return out
}

func num(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// WriteTable writes the table as aligned text.
func (r *Report) WriteTable(w io.Writer) error {
	cells := r.cells()
	width := make([]int, len(cells[0]))
	for _, line := range cells {
		for i, c := range line {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	b.WriteString(r.Title() + "\n")
	for _, line := range cells {
		var l strings.Builder
		for i, c := range line {
			fmt.Fprintf(&l, "  %-*s", width[i], c)
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	for _, f := range r.Failures {
		b.WriteString("  FAILED: " + f + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the table as markdown.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("\n### " + r.Title() + "\n\n")
	for i, line := range r.cells() {
		b.WriteString("| " + strings.Join(line, " | ") + " |\n")
		if i == 0 {
			b.WriteString("|" + strings.Repeat(" --- |", len(line)) + "\n")
		}
	}
	for _, f := range r.Failures {
		b.WriteString("\nFAILED: " + f + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("queue results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("queue results: %w", err)
	}
	return nil
}
