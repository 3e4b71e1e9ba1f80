// Package e2e tests the library end to end: a real host (this test
// process) launches real worker binaries over real Unix sockets.
package e2e

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// bins holds the worker binaries TestMain builds.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	dir, err := os.MkdirTemp("", "iw-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, pkg := range map[string]string{
		"testworker":   "github.com/isolated-workers/isolated-workers-go/test/testworker",
		"jobs-worker":  "github.com/isolated-workers/isolated-workers-go/examples/jobs/worker",
		"streamworker": "github.com/isolated-workers/isolated-workers-go/test/streamworker",
	} {
		out := filepath.Join(dir, name)
		cmd := goBuild(out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.Exit(1)
		}
		bins[name] = out
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild returns the command that builds package pkg into the binary out,
// with -race when the tests run with it: a race in a worker then shows in
// the worker's stderr and fails it with exit status 66, instead of going
// unseen.
func goBuild(out, pkg string) *exec.Cmd {
	args := []string{"build"}
	if raceEnabled {
		args = append(args, "-race")
	}
	return exec.Command("go", append(args, "-o", out, pkg)...)
}

// logSink collects hclog JSON records written by a host logger.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// records returns the records logged so far.
func (s *logSink) records() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(s.buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// find returns the first record whose message contains msg.
func (s *logSink) find(msg string) map[string]any {
	for _, r := range s.records() {
		if m, _ := r["@message"].(string); strings.Contains(m, msg) {
			return r
		}
	}
	return nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestWorkerBinariesMatchRaceMode checks that TestMain built the worker
// binaries with -race exactly when this test binary has it.
func TestWorkerBinariesMatchRaceMode(t *testing.T) {
	for name, path := range bins {
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatalf("read build info of %s: %v", name, err)
		}
		race := false
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				race = true
			}
		}
		if race != raceEnabled {
			t.Errorf("worker binary %s built with -race=%v, want %v (the tests' own mode)", name, race, raceEnabled)
		}
	}
}
