package workload

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Row keys. Round-trip, step and lane rows are named by rowRT, rowStep and
// rowLanes.
const (
	RowStartup         = "startup"
	RowEchoMBs         = "echo-1mib-mbs-one-way"
	RowStructP50       = "struct-p50"
	RowStructP99       = "struct-p99"
	RowEchoFirst       = "echo-first"
	RowEchoFirstFaults = "echo-first-worker-faults"
	RowRSS             = "rss"
	RowPoolIdleStart   = "pool-idle-start"
	RowPoolIdleRSS     = "pool-idle-rss"
)

// PoolSpares are the spare counts of the crash-to-replacement rows.
var PoolSpares = []int{0, 1}

func rowPoolCrash(spares, pct int) string { return fmt.Sprintf("pool-crash-spares%d-p%d", spares, pct) }

// RowPoolCrash is the key of a crash-to-replacement row, for tests.
func RowPoolCrash(spares, pct int) string { return rowPoolCrash(spares, pct) }

func rowRT(size, pct int) string   { return fmt.Sprintf("rt-%d-p%d", size, pct) }
func rowStep(size, pct int) string { return fmt.Sprintf("step-%d-p%d", size, pct) }
func rowLanes(g int) string        { return fmt.Sprintf("lanes-%d", g) }

// RowRT, RowStep and RowLanes are the keys of those rows, for tests.
func RowRT(size, pct int) string   { return rowRT(size, pct) }
func RowStep(size, pct int) string { return rowStep(size, pct) }
func RowLanes(g int) string        { return rowLanes(g) }

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// Row groups: the main table, the 64 KiB step probe and the pools (iw
// only).
const (
	GroupMain = "main"
	GroupStep = "step"
	GroupPool = "pool"
)

// rowSpec describes one table row.
type rowSpec struct {
	key, workload, label, unit, group string
	higherBetter                      bool
}

func rowSpecs(cfg Config) []rowSpec {
	rows := []rowSpec{{RowStartup, WStartup, fmt.Sprintf("spawn to first reply (median of %d launches per run)", cfg.StartupLaunches), "ms", GroupMain, false}}
	for _, size := range RoundTripSizes {
		for _, pct := range []int{50, 99} {
			rows = append(rows, rowSpec{rowRT(size, pct), WLatency, fmt.Sprintf("sequential round trip %s, p%d", sizeLabel(size), pct), "us", GroupMain, false})
		}
	}
	rows = append(rows, rowSpec{RowEchoMBs, WLatency, "1 MiB echo bandwidth, ONE way (bytes sent per second)", "MB/s", GroupMain, true})
	for _, g := range LaneCounts {
		rows = append(rows, rowSpec{rowLanes(g), WLanes, fmt.Sprintf("%d lane(s), 32 B, back to back", g), "msg/s", GroupMain, true})
	}
	rows = append(rows,
		rowSpec{RowStructP50, WLatencyStruct, "sequential 1-field struct (own serializer), p50", "us", GroupMain, false},
		rowSpec{RowStructP99, WLatencyStruct, "sequential 1-field struct (own serializer), p99", "us", GroupMain, false},
		rowSpec{RowEchoFirst, WEchoFirst, "first 1 MiB echo on a fresh worker", "ms", GroupMain, false},
		rowSpec{RowEchoFirstFaults, WEchoFirst, "  worker minor page faults in that echo", "faults", GroupMain, false},
		rowSpec{RowRSS, WRSS, fmt.Sprintf("idle worker RSS (%d pings, >= %s idle)", cfg.RSSCalls, cfg.RSSIdle), "MiB", GroupMain, false},
	)
	for _, size := range StepSizes {
		for _, pct := range []int{50, 99} {
			rows = append(rows, rowSpec{rowStep(size, pct), WStep, fmt.Sprintf("%d B round trip, p%d", size, pct), "us", GroupStep, false})
		}
	}
	for _, spares := range PoolSpares {
		what := "no spare"
		if spares > 0 {
			what = fmt.Sprintf("%d warm spare(s)", spares)
		}
		for _, pct := range []int{50, 99} {
			rows = append(rows, rowSpec{rowPoolCrash(spares, pct), WPool,
				fmt.Sprintf("kill -9 to a worker serving in its place, %s, p%d (%d kills per run)", what, pct, cfg.PoolKills), "ms", GroupPool, false})
		}
	}
	rows = append(rows,
		rowSpec{RowPoolIdleStart, WPool, fmt.Sprintf("%d idle workers: start them all (NewPool, in parallel)", cfg.PoolIdleWorkers), "s", GroupPool, false},
		rowSpec{RowPoolIdleRSS, WPool, fmt.Sprintf("%d idle workers: total RSS", cfg.PoolIdleWorkers), "MiB", GroupPool, false},
	)
	return rows
}

// Machine describes where the run happened.
type Machine struct {
	NumCPU     int    `json:"nproc"`
	Model      string `json:"cpu_model"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// GOMAXPROCSEnv is the GOMAXPROCS environment variable every process
	// (this one and the workers) saw; "" is the default (one per CPU).
	GOMAXPROCSEnv string `json:"gomaxprocs_env"`
	GoVersion     string `json:"go_version"`
	Kernel        string `json:"kernel"`
}

// Report is the result of a run, as written to JSON.
type Report struct {
	Time    time.Time `json:"time"`
	Machine Machine   `json:"machine"`
	// LoadAvg is the 1-minute load average before and after the run.
	LoadAvg [2]float64 `json:"load_avg_1m_before_after"`
	// Interference is the CPU other processes (and the hypervisor) took
	// while the run went on: on a shared 2-core machine, more than a few
	// percent disturbs the figures.
	Interference *Interference `json:"interference,omitempty"`
	start        cpuSnapshot
	Duration     float64    `json:"duration_seconds"`
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

// Settings are the run's counts and durations.
type Settings struct {
	Runs            int     `json:"runs"`
	StartupLaunches int     `json:"startup_launches_per_run"`
	LatencyCalls    int     `json:"latency_calls_32b_1kib"`
	LatencyCalls64K int     `json:"latency_calls_64kib"`
	LatencyCalls1M  int     `json:"latency_calls_1mib"`
	StructCalls     int     `json:"struct_calls"`
	LanesSecs       float64 `json:"lanes_seconds_per_count"`
	RSSIdleSecs     float64 `json:"rss_idle_seconds"`
}

// Row is one figure for every peer: the median over the runs, with min,
// max and every run's value. Ratios are iw's median divided by each other
// peer's; HigherIsBetter says how to read them.
type Row struct {
	Key            string               `json:"key"`
	Workload       string               `json:"workload"`
	Group          string               `json:"group"`
	Label          string               `json:"label"`
	Unit           string               `json:"unit"`
	HigherIsBetter bool                 `json:"higher_is_better"`
	Values         map[string]float64   `json:"median"`
	Min            map[string]float64   `json:"min"`
	Max            map[string]float64   `json:"max"`
	Runs           map[string][]float64 `json:"runs"`
	Ratios         map[string]float64   `json:"iw_ratio_to,omitempty"`
	Errors         map[string]string    `json:"errors,omitempty"`
	// NA names the peers the row does not apply to (no serializer, say).
	NA map[string]bool `json:"not_applicable,omitempty"`
}

func newReport(cfg Config) *Report {
	r := &Report{
		Time:    time.Now().UTC(),
		Machine: machine(),
		LoadAvg: [2]float64{loadAvg(), 0},
		start:   takeCPUSnapshot(),
		Settings: Settings{
			Runs: cfg.Runs, StartupLaunches: cfg.StartupLaunches,
			LatencyCalls: cfg.LatencyCalls, LatencyCalls64K: cfg.LatencyCalls64K, LatencyCalls1M: cfg.LatencyCalls1M,
			StructCalls: cfg.StructCalls, LanesSecs: cfg.LanesFor.Seconds(), RSSIdleSecs: cfg.RSSIdle.Seconds(),
		},
		Note: "Every figure is the median over the runs, with min-max. ratio = iw median / peer median; " +
			"for rows with higher_is_better a ratio above 1 favours iw, otherwise a ratio below 1 does. " +
			"1 MiB bandwidth is one way: echoed bytes sent per second (1 MB = 1e6 bytes), not sent plus received. " +
			"rawmux is a yamux session: lock-step on one stream for the sequential rows, pipelined on another stream " +
			"(coalesced writes, one reader goroutine) for the lane rows; raw is lock-step on one connection, and " +
			"pipelined on a second connection for the lane rows. " +
			"Neither raw peer has a serializer, so no struct row.",
	}
	for _, p := range cfg.Peers {
		r.Peers = append(r.Peers, PeerInfo{Name: p.Name, Title: p.Title})
	}
	for _, s := range rowSpecs(cfg) {
		if slices.Contains(cfg.Workloads, s.workload) {
			r.Rows = append(r.Rows, Row{Key: s.key, Workload: s.workload, Group: s.group, Label: s.label, Unit: s.unit,
				HigherIsBetter: s.higherBetter, Values: map[string]float64{}, Min: map[string]float64{},
				Max: map[string]float64{}, Runs: map[string][]float64{}})
		}
	}
	return r
}

func machine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOMAXPROCSEnv: os.Getenv("GOMAXPROCS"),
		GoVersion: runtime.Version(), Model: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

func (r *Report) row(key string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Key == key {
			return &r.Rows[i]
		}
	}
	return nil
}

// add records one run's value of a row for a peer.
func (r *Report) add(key, peer string, v float64) {
	if row := r.row(key); row != nil {
		row.Runs[peer] = append(row.Runs[peer], v)
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

// notApplicable marks a workload's rows as not applying to a peer.
func (r *Report) notApplicable(workload, peer string) {
	for i := range r.Rows {
		if r.Rows[i].Workload == workload {
			if r.Rows[i].NA == nil {
				r.Rows[i].NA = map[string]bool{}
			}
			r.Rows[i].NA[peer] = true
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

// median returns the median of vs (the mean of the middle two for an even
// count), sorting vs.
func median(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// finish computes medians, spreads and ratios.
func (r *Report) finish() {
	r.LoadAvg[1] = loadAvg()
	end := takeCPUSnapshot()
	r.Duration = end.at.Sub(r.start.at).Seconds()
	if in, ok := interference(r.start, end, r.Machine.NumCPU); ok {
		r.Interference = &in
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		for p, vs := range row.Runs {
			if len(vs) == 0 {
				continue
			}
			sorted := slices.Clone(vs)
			row.Values[p] = median(sorted)
			row.Min[p], row.Max[p] = sorted[0], sorted[len(sorted)-1]
		}
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

// Get returns a row's median for a peer.
func (r *Report) Get(key, peer string) (float64, bool) {
	row := r.row(key)
	if row == nil {
		return 0, false
	}
	v, ok := row.Values[peer]
	return v, ok
}

// Row returns the row with this key, or nil.
func (r *Report) Row(key string) *Row { return r.row(key) }

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

// header is the lines above the table: what, when, where.
func (r *Report) header() []string {
	m := r.Machine
	procs := fmt.Sprintf("GOMAXPROCS=%d (default: one per CPU)", m.GOMAXPROCS)
	if m.GOMAXPROCSEnv != "" {
		procs = fmt.Sprintf("GOMAXPROCS=%s (set in the environment of every process)", m.GOMAXPROCSEnv)
	}
	lines := []string{
		fmt.Sprintf("side by side, %s, %s", r.Time.Format("2006-01-02 15:04 MST"), m.GoVersion),
		fmt.Sprintf("machine: nproc %d, %s, %s; %s", m.NumCPU, m.Model, m.Kernel, procs),
		fmt.Sprintf("each figure: median of %d runs (min-max over the runs); peers interleaved run by run; each worker its own binary", r.Settings.Runs),
	}
	if in := r.Interference; in != nil {
		l := fmt.Sprintf("other processes used %.0f%% of the machine's CPU during the run, hypervisor steal %.0f%%; load average %.2f before, %.2f after",
			100*in.OtherCPU, 100*in.Steal, r.LoadAvg[0], r.LoadAvg[1])
		lines = append(lines, l)
		if in.OtherCPU+in.Steal > 0.05 {
			lines = append(lines, "WARNING: the machine was shared during the run; figures are disturbed by other work")
		}
	}
	lines = append(lines, "ratio columns: iw ÷ peer (medians); \"better\" says which way is better (lower: a ratio < 1 favours iw; higher: a ratio > 1 does)")
	return lines
}

func (r *Report) footer() []string {
	return []string{
		"1 MiB bandwidth is ONE way: echoed bytes sent per second (1 MB = 10^6 B); the same bytes come back in the same time.",
		"raw UDS yamux: one yamux session (isolated-workers' settings), no envelope or serializer; sequential rows lock-step on one stream,",
		"  lane rows pipeline on one more stream (coalesced writes, one reader goroutine), as isolated-workers uses its calls stream.",
		"raw UDS lock-step: one connection, write then read on the caller's goroutine; its lane rows pipeline on a second connection with one reader goroutine.",
	}
}

func (r *Report) others() []PeerInfo {
	var others []PeerInfo
	if !slices.ContainsFunc(r.Peers, func(p PeerInfo) bool { return p.Name == "iw" }) {
		return nil
	}
	for _, p := range r.Peers {
		if p.Name != "iw" {
			others = append(others, p)
		}
	}
	return others
}

// tableRows returns the main table: a header row and a row per figure.
func (r *Report) tableRows() [][]string {
	head := []string{"workload", "unit", "better"}
	for _, p := range r.Peers {
		head = append(head, p.Title)
	}
	for _, p := range r.others() {
		head = append(head, "iw vs "+shortTitle(p))
	}
	out := [][]string{head}
	for _, row := range r.Rows {
		if row.Group != GroupMain {
			continue
		}
		better := "lower"
		if row.HigherIsBetter {
			better = "higher"
		}
		cells := []string{row.Label, row.Unit, better}
		for _, p := range r.Peers {
			cells = append(cells, r.cell(row, p.Name))
		}
		for _, p := range r.others() {
			if v, ok := row.Ratios[p.Name]; ok {
				cells = append(cells, fmt.Sprintf("%.2fx", v))
			} else if row.NA[p.Name] {
				cells = append(cells, "n/a")
			} else {
				cells = append(cells, "-")
			}
		}
		out = append(out, cells)
	}
	return out
}

// stepRows returns the 64 KiB step probe: a header row and a row per size.
func (r *Report) stepRows() [][]string {
	out := [][]string{{"payload bytes", "p50 us", "p99 us"}}
	for _, size := range StepSizes {
		p50, p99 := r.row(rowStep(size, 50)), r.row(rowStep(size, 99))
		if p50 == nil || p99 == nil {
			return nil
		}
		if _, ok := p50.Values["iw"]; !ok {
			return nil
		}
		out = append(out, []string{strconv.Itoa(size), r.cell(*p50, "iw"), r.cell(*p99, "iw")})
	}
	return out
}

// poolTitle heads the pools table.
const poolTitle = "Pools (host.Pool), isolated-workers only: go-plugin has no pools, no restart, no health check and no spares " +
	"(a crashed plugin stays dead until its host starts it again), so it has no figure to compare:"

// poolRows returns the pools table: a header row and a row per figure.
func (r *Report) poolRows() [][]string {
	out := [][]string{{"workload", "unit", "better", "isolated-workers", "go-plugin"}}
	for _, row := range r.Rows {
		if row.Group != GroupPool {
			continue
		}
		if _, ok := row.Values["iw"]; !ok {
			if _, failed := row.Errors["iw"]; !failed {
				continue
			}
		}
		out = append(out, []string{row.Label, row.Unit, "lower", r.cell(row, "iw"), "no pools"})
	}
	if len(out) == 1 {
		return nil
	}
	return out
}

// WriteTable prints the report as plain-text tables.
func (r *Report) WriteTable(w io.Writer) error {
	for _, l := range r.header() {
		fmt.Fprintln(w, l)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, cells := range r.tableRows() {
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range r.footer() {
		fmt.Fprintln(w, l)
	}
	if step := r.stepRows(); step != nil {
		fmt.Fprintln(w, "\n64 KiB step probe, isolated-workers, sequential round trips (the bulk threshold is 65,536 B of payload):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, cells := range step {
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if pool := r.poolRows(); pool != nil {
		fmt.Fprintln(w, "\n"+poolTitle)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, cells := range pool {
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, f := range r.Failures() {
		fmt.Fprintln(w, "FAILED", f)
	}
	return nil
}

// WriteMarkdown writes the report as markdown tables, ready for a README.
func (r *Report) WriteMarkdown(w io.Writer) error {
	for _, l := range r.header() {
		fmt.Fprintf(w, "%s  \n", l)
	}
	fmt.Fprintln(w)
	mdTable(w, r.tableRows())
	fmt.Fprintln(w)
	for _, l := range r.footer() {
		fmt.Fprintf(w, "%s  \n", l)
	}
	if step := r.stepRows(); step != nil {
		fmt.Fprintln(w, "\n64 KiB step probe, isolated-workers, sequential round trips:")
		fmt.Fprintln(w)
		mdTable(w, step)
	}
	if pool := r.poolRows(); pool != nil {
		fmt.Fprintln(w, "\n"+poolTitle)
		fmt.Fprintln(w)
		mdTable(w, pool)
	}
	for _, f := range r.Failures() {
		fmt.Fprintf(w, "\nFAILED %s\n", f)
	}
	_, err := fmt.Fprintln(w)
	return err
}

func mdTable(w io.Writer, rows [][]string) {
	for i, cells := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			seps := make([]string, len(cells))
			for j := range seps {
				seps[j] = "---:"
			}
			seps[0] = "---"
			fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
		}
	}
}

func shortTitle(p PeerInfo) string {
	switch p.Name {
	case "netrpc":
		return "net/rpc"
	case "grpc":
		return "gRPC"
	case "rawmux":
		return "raw yamux"
	case "raw":
		return "raw lock-step"
	}
	return p.Name
}

// cell is "median (min-max)", or "FAILED", or "-".
func (r *Report) cell(row Row, peer string) string {
	if _, failed := row.Errors[peer]; failed {
		return "FAILED"
	}
	v, ok := row.Values[peer]
	if !ok {
		if row.NA[peer] {
			return "n/a"
		}
		return "-"
	}
	f := func(v float64) string { return formatValue(row.Unit, v) }
	if len(row.Runs[peer]) < 2 {
		return f(v)
	}
	return fmt.Sprintf("%s (%s-%s)", f(v), f(row.Min[peer]), f(row.Max[peer]))
}

func formatValue(unit string, v float64) string {
	switch {
	case unit == "msg/s":
		return fmt.Sprintf("%.0fk", v/1000)
	case unit == "s":
		return fmt.Sprintf("%.2f", v)
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

// WriteMarkdownFile writes WriteMarkdown's tables to path.
func (r *Report) WriteMarkdownFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteMarkdown(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
