package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestExamplesRunToCompletion builds every example's host and worker and
// runs the host as `make demo` does: each must finish on its own with exit
// status 0. (jobs has its own tests in jobs_test.go.)
func TestExamplesRunToCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example")
	}
	for _, name := range []string{"basic-ping", "middleware", "serializers", "reattach", "reconnect", "logging"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pkg := "github.com/isolated-workers/isolated-workers-go/examples/" + name
			hostBin, workerBin := filepath.Join(dir, name), filepath.Join(dir, name+"-worker")
			for bin, p := range map[string]string{hostBin: pkg, workerBin: pkg + "/worker"} {
				if out, err := goBuild(bin, p).CombinedOutput(); err != nil {
					t.Fatalf("build %s: %v\n%s", p, err, out)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, hostBin, "-worker", workerBin)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("example %s: %v (context: %v)\n%s", name, err, ctx.Err(), out)
			}
			if len(out) == 0 {
				t.Errorf("example %s printed nothing", name)
			}
		})
	}
}
