package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestJobsExampleKeepsDeadLettersAcrossRuns runs examples/jobs twice on one
// queue store (its embedded server, as `make demo` runs it): the second run
// must list the dead letters the first left (its permanent failures), read
// back from disk, and both must pass their checks.
func TestJobsExampleKeepsDeadLettersAcrossRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs examples/jobs twice")
	}
	dir := t.TempDir()
	hostBin := filepath.Join(dir, "jobs")
	if out, err := goBuild(hostBin, "github.com/isolated-workers/isolated-workers-go/examples/jobs").CombinedOutput(); err != nil {
		t.Fatalf("build examples/jobs: %v\n%s", err, out)
	}
	store := filepath.Join(dir, "store")
	run := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, hostBin, "-worker", bins["jobs-worker"], "-pace", "1ms", "-store", store).CombinedOutput()
		if err != nil {
			t.Fatalf("jobs -store %s: %v\n%s", store, err, out)
		}
		return string(out)
	}
	runOf := regexp.MustCompile(`enqueued \d+ jobs \(run (\S+)\)`)

	first := run()
	if !strings.Contains(first, "dead letters kept from earlier runs: 0\n") {
		t.Fatalf("first run on an empty store: no line \"dead letters kept from earlier runs: 0\":\n%s", first)
	}
	m := runOf.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first run: no \"enqueued N jobs (run ID)\" line:\n%s", first)
	}
	second := run()
	if !strings.Contains(second, "dead letters kept from earlier runs: 3\n") {
		t.Errorf("second run: no line \"dead letters kept from earlier runs: 3\" (the first run's permanent failures):\n%s", second)
	}
	for _, job := range []string{"job-04", "job-12", "job-20"} {
		want := "job " + m[1] + "-" + job + ", 1 attempt(s), permanent"
		if !strings.Contains(second, want) {
			t.Errorf("second run does not list the first run's dead letter %q:\n%s", want, second)
		}
	}
}
