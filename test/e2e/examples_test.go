package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// selfTestEnv makes the N-th check of an example fail on purpose
// (examples/internal/check).
const selfTestEnv = "IW_EXAMPLE_SELFTEST_FAIL"

// TestExamplesRunToCompletion builds every example's host and worker and
// runs the host as `make demo` does. Each must finish on its own with exit
// status 0 after passing its own checks, with no check failed and no bare
// panic trace on its output (the failures an example shows on purpose are
// marked "(expected)"). Then, with one of its checks made to fail, it must
// exit with status 1 and say "check failed": its checks can fail it.
func TestExamplesRunToCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example")
	}
	examples := []struct {
		name string
		args []string
	}{
		{"basic-ping", nil},
		{"bidirectional", nil},
		{"jobs", []string{"-pace", "1ms", "-store", "store"}}, // in the test's directory
		{"middleware", nil},
		{"serializers", nil},
		{"reattach", nil},
		{"reconnect", nil},
		{"logging", nil},
		{"tracing", nil},
		{"pool", nil},
		{"stream", nil},
	}
	passed := regexp.MustCompile(`(?m)^all [1-9]\d* checks passed$`)
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pkg := "github.com/isolated-workers/isolated-workers-go/examples/" + ex.name
			hostBin, workerBin := filepath.Join(dir, ex.name), filepath.Join(dir, ex.name+"-worker")
			for bin, p := range map[string]string{hostBin: pkg, workerBin: pkg + "/worker"} {
				if out, err := goBuild(bin, p).CombinedOutput(); err != nil {
					t.Fatalf("build %s: %v\n%s", p, err, out)
				}
			}
			run := func(t *testing.T, env ...string) (string, error) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, hostBin, append([]string{"-worker", workerBin}, ex.args...)...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), env...)
				out, err := cmd.CombinedOutput()
				if ctx.Err() != nil {
					t.Fatalf("example %s still ran after 2 minutes:\n%s", ex.name, out)
				}
				return string(out), err
			}

			t.Run("checks pass", func(t *testing.T) {
				out, err := run(t)
				if err != nil {
					t.Fatalf("example %s: %v\n%s", ex.name, err, out)
				}
				if strings.Contains(out, "check failed") || !passed.MatchString(out) {
					t.Errorf("example %s exited 0 but its output has no \"all N checks passed\" line or has a failed check:\n%s", ex.name, out)
				}
				if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic: ") {
					t.Errorf("example %s printed a panic trace; planned failures must be shown as \"(expected)\" lines:\n%s", ex.name, out)
				}
			})

			t.Run("a failed check fails it", func(t *testing.T) {
				out, err := run(t, selfTestEnv+"=2")
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Fatalf("example %s with check 2 made to fail: %v, want exit status 1\n%s", ex.name, err, out)
				}
				if !strings.Contains(out, "check failed: ") || !strings.Contains(out, "[failed on purpose: "+selfTestEnv+"=2]") {
					t.Errorf("example %s with check 2 made to fail printed no \"check failed: ...\" line for it:\n%s", ex.name, out)
				}
			})
		})
	}
}
