package bench

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/queuebench"
)

// TestQueueTableSmoke fills the queue table at a tiny scale (both modes,
// two runs of 50 jobs) and checks every cell: positive figures, p99 at
// least p50, the median within min-max, and a table with no empty or
// failed cell.
func TestQueueTableSmoke(t *testing.T) {
	cfg := queuebench.Config{WorkerBin: workers(t).Path("iw"), Jobs: 50, Runs: 2, RunTimeout: 2 * time.Minute}
	r, err := queuebench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failures) > 0 {
		t.Errorf("Run: failures:\n%s", strings.Join(r.Failures, "\n"))
	}
	for _, mode := range []string{queuebench.Embedded, queuebench.Cluster} {
		for _, metric := range []string{queuebench.MetricJobsPerSec, queuebench.MetricEnqueueP50, queuebench.MetricEnqueueP99} {
			row := r.Get(mode, metric)
			switch {
			case row == nil:
				t.Errorf("no row %s / %s", mode, metric)
			case len(row.Runs) != cfg.Runs:
				t.Errorf("%s / %s: %d runs recorded, want %d", mode, metric, len(row.Runs), cfg.Runs)
			case math.IsNaN(row.Median) || math.IsInf(row.Median, 0) || row.Median <= 0:
				t.Errorf("%s / %s: median %v, want a positive finite figure", mode, metric, row.Median)
			case row.Min > row.Median || row.Median > row.Max:
				t.Errorf("%s / %s: median %v outside min-max %v-%v", mode, metric, row.Median, row.Min, row.Max)
			}
		}
		p50, p99 := r.Get(mode, queuebench.MetricEnqueueP50), r.Get(mode, queuebench.MetricEnqueueP99)
		if p50 != nil && p99 != nil && p99.Median < p50.Median {
			t.Errorf("%s: Enqueue p99 %v is below p50 %v", mode, p99.Median, p50.Median)
		}
	}
	var sb, md strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"50 small jobs", "pool of 2 workers", "embedded server", "3-node loopback cluster", "jobs/s", "Enqueue p99"} {
		if !strings.Contains(sb.String(), want) || !strings.Contains(md.String(), want) {
			t.Errorf("table or markdown has no %q:\n%s\n%s", want, sb.String(), md.String())
		}
	}
	if strings.Contains(sb.String(), "FAILED") {
		t.Errorf("table has a failed cell:\n%s", sb.String())
	}
	t.Log("\n" + sb.String())
}
