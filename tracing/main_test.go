package tracing_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// workerBin is the tracing example's worker and testWorkerBin the
// library's test worker (test/testworker), built by TestMain: the tests
// trace calls to real worker processes.
var workerBin, testWorkerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iw-tracing-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = filepath.Join(dir, "tracing-worker")
	testWorkerBin = filepath.Join(dir, "testworker")
	for bin, pkg := range map[string]string{
		workerBin:     "github.com/isolated-workers/isolated-workers-go/examples/tracing/worker",
		testWorkerBin: "github.com/isolated-workers/isolated-workers-go/test/testworker",
	} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
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
