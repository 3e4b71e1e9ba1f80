package workload

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Row keys.
const (
	RowStartup     = "startup"
	RowLatencyP50  = "latency-p50"
	RowLatencyP99  = "latency-p99"
	RowConcurrency = "concurrency"
	RowStructP50   = "latency-struct-p50"
	RowStructP99   = "latency-struct-p99"
	RowEcho        = "echo"
	RowEchoFirst   = "echo-first"
	RowRSS         = "rss"
)

// rowSpec describes one table row.
type rowSpec struct {
	key, workload, label, unit string
	higherBetter               bool
}

func rowSpecs(cfg Config) []rowSpec {
	return []rowSpec{
		{RowStartup, WStartup, fmt.Sprintf("start-up to first reply, median of %d", cfg.StartupLaunches), "ms", false},
		{RowLatencyP50, WLatency, "sequential round trip 32 B, p50", "us", false},
		{RowLatencyP99, WLatency, "sequential round trip 32 B, p99", "us", false},
		{RowConcurrency, WConcurrency, fmt.Sprintf("%d-way concurrent 32 B", cfg.Goroutines), "msg/s", true},
		{RowStructP50, WLatencyStruct, "sequential 1-field struct (serializer), p50", "us", false},
		{RowStructP99, WLatencyStruct, "sequential 1-field struct (serializer), p99", "us", false},
		{RowEcho, WEcho, "1 MiB echo, sent+received", "MB/s", true},
		{RowEchoFirst, WEchoFirst, fmt.Sprintf("first 1 MiB echo on a fresh worker, median of %d", cfg.EchoFirstN), "ms", false},
		{RowRSS, WRSS, "idle worker RSS", "MiB", false},
	}
}

// Report is the result of one run, as written to JSON.
type Report struct {
	Time       time.Time `json:"time"`
	GoVersion  string    `json:"go_version"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	NumCPU     int       `json:"num_cpu"`
	// LoadAvg is the 1-minute load average before and after the run.
	LoadAvg [2]float64 `json:"load_avg_1m_before_after"`
	// Interference is the CPU other processes (and the hypervisor) took
	// while the run went on: on a shared 2-core machine, more than a few
	// percent disturbs the figures.
	Interference *Interference `json:"interference,omitempty"`
	start        cpuSnapshot
	Peers        []PeerInfo `json:"peers"`
	Settings     Settings   `json:"settings"`
	Rows         []Row      `json:"rows"`
	Note         string     `json:"note"`
}

// PeerInfo names a peer.
type PeerInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// Settings are the run's sizes and durations.
type Settings struct {
	PayloadBytes    int     `json:"payload_bytes"`
	EchoBytes       int     `json:"echo_bytes"`
	StartupLaunches int     `json:"startup_launches"`
	LatencyCalls    int     `json:"latency_calls"`
	StructCalls     int     `json:"struct_calls"`
	Goroutines      int     `json:"goroutines"`
	ConcurrentSecs  float64 `json:"concurrent_seconds"`
	EchoCount       int     `json:"echo_count_max"`
	EchoMaxSecs     float64 `json:"echo_max_seconds"`
	EchoFirstN      int     `json:"echo_first_launches"`
	RSSIdleSecs     float64 `json:"rss_idle_seconds"`
}

// Row is one measured figure for every peer. Ratios are iw's value divided
// by each other peer's; HigherIsBetter says how to read them.
type Row struct {
	Key            string             `json:"key"`
	Workload       string             `json:"workload"`
	Label          string             `json:"label"`
	Unit           string             `json:"unit"`
	HigherIsBetter bool               `json:"higher_is_better"`
	Values         map[string]float64 `json:"values"`
	Ratios         map[string]float64 `json:"iw_ratio_to,omitempty"`
	Errors         map[string]string  `json:"errors,omitempty"`
}

func newReport(cfg Config) *Report {
	gv, procs, cpus := env()
	r := &Report{
		Time: time.Now().UTC(), GoVersion: gv, GOMAXPROCS: procs, NumCPU: cpus,
		LoadAvg: [2]float64{loadAvg(), 0},
		start:   takeCPUSnapshot(),
		Settings: Settings{
			PayloadBytes: len(Payload), EchoBytes: EchoSize, StartupLaunches: cfg.StartupLaunches,
			LatencyCalls: cfg.LatencyCalls, StructCalls: cfg.StructCalls, Goroutines: cfg.Goroutines,
			ConcurrentSecs: cfg.ConcurrentFor.Seconds(), EchoCount: cfg.EchoCount,
			EchoMaxSecs: cfg.EchoMax.Seconds(), EchoFirstN: cfg.EchoFirstN, RSSIdleSecs: cfg.RSSIdle.Seconds(),
		},
		Note: "ratio = iw / peer; for rows with higher_is_better a ratio above 1 favours iw, otherwise below 1 does. " +
			"Echo MB/s counts bytes sent plus received (2 MiB per echo), 1 MB = 1e6 bytes. " +
			"raw runs lock-step for sequential workloads and pipelined for the concurrent one; it has no serializer, so no struct row.",
	}
	for _, p := range cfg.Peers {
		r.Peers = append(r.Peers, PeerInfo{Name: p.Name, Title: p.Title})
	}
	for _, s := range rowSpecs(cfg) {
		if slices.Contains(cfg.Workloads, s.workload) {
			r.Rows = append(r.Rows, Row{Key: s.key, Workload: s.workload, Label: s.label, Unit: s.unit,
				HigherIsBetter: s.higherBetter, Values: map[string]float64{}})
		}
	}
	return r
}

func (r *Report) row(key string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Key == key {
			return &r.Rows[i]
		}
	}
	return nil
}

func (r *Report) set(key, peer string, v float64) {
	if row := r.row(key); row != nil {
		row.Values[peer] = v
	}
}

func (r *Report) fail(workload, peer string, err error) {
	for i := range r.Rows {
		if r.Rows[i].Workload == workload {
			if r.Rows[i].Errors == nil {
				r.Rows[i].Errors = map[string]string{}
			}
			r.Rows[i].Errors[peer] = err.Error()
		}
	}
}

// loadAvg returns the 1-minute load average, or -1.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// finish computes the ratios.
func (r *Report) finish() {
	r.LoadAvg[1] = loadAvg()
	if in, ok := interference(r.start, takeCPUSnapshot(), r.NumCPU); ok {
		r.Interference = &in
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		iw, ok := row.Values["iw"]
		if !ok {
			continue
		}
		for p, v := range row.Values {
			if p != "iw" && v != 0 {
				if row.Ratios == nil {
					row.Ratios = map[string]float64{}
				}
				row.Ratios[p] = iw / v
			}
		}
	}
}

// Get returns a row's value for a peer.
func (r *Report) Get(key, peer string) (float64, bool) {
	row := r.row(key)
	if row == nil {
		return 0, false
	}
	v, ok := row.Values[peer]
	return v, ok
}

// Failures returns every error, as "workload/peer: error".
func (r *Report) Failures() []string {
	seen := map[string]bool{}
	var out []string
	for _, row := range r.Rows {
		for p, e := range row.Errors {
			s := fmt.Sprintf("%s/%s: %s", row.Workload, p, e)
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// WriteTable prints the report as one table: rows are workloads, columns
// the peers, then iw's ratio to each other peer.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "side by side, one process, %s, GOMAXPROCS=%d, %d CPUs, %s\n",
		r.GoVersion, r.GOMAXPROCS, r.NumCPU, r.Time.Format(time.RFC3339))
	if in := r.Interference; in != nil {
		fmt.Fprintf(w, "other processes used %.0f%% of the machine's CPU during the run, hypervisor steal %.0f%%\n", 100*in.OtherCPU, 100*in.Steal)
		if in.OtherCPU+in.Steal > 0.05 {
			fmt.Fprintln(w, "WARNING: the machine was shared during the run; figures are disturbed by other work")
		}
	}
	fmt.Fprintln(w, "ratio columns are iw ÷ peer; \"better\" says which way is better for that row (higher: ratio > 1 favours iw; lower: ratio < 1 does)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"workload", "unit", "better"}
	var others []PeerInfo
	for _, p := range r.Peers {
		head = append(head, p.Title)
		if p.Name != "iw" {
			others = append(others, p)
		}
	}
	hasIW := slices.ContainsFunc(r.Peers, func(p PeerInfo) bool { return p.Name == "iw" })
	if hasIW {
		for _, p := range others {
			head = append(head, "iw vs "+shortTitle(p))
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range r.Rows {
		better := "lower"
		if row.HigherIsBetter {
			better = "higher"
		}
		cells := []string{row.Label, row.Unit, better}
		for _, p := range r.Peers {
			cells = append(cells, r.cell(row, p.Name))
		}
		if hasIW {
			for _, p := range others {
				if v, ok := row.Ratios[p.Name]; ok {
					cells = append(cells, fmt.Sprintf("%.2fx", v))
				} else {
					cells = append(cells, "-")
				}
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "echo MB/s counts bytes sent + received (2 MiB per echo, 1 MB = 10^6 B); raw is lock-step for sequential rows, pipelined for the concurrent row")
	for _, f := range r.Failures() {
		fmt.Fprintln(w, "FAILED", f)
	}
	return nil
}

func shortTitle(p PeerInfo) string {
	switch p.Name {
	case "netrpc":
		return "net/rpc"
	case "grpc":
		return "gRPC"
	}
	return p.Name
}

func (r *Report) cell(row Row, peer string) string {
	if _, failed := row.Errors[peer]; failed {
		return "FAILED"
	}
	v, ok := row.Values[peer]
	if !ok {
		return "-"
	}
	switch {
	case row.Unit == "msg/s":
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 100 || math.Abs(v-math.Round(v)) < 1e-9:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// WriteJSON writes the report, indented, to path, creating its directory.
func (r *Report) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
