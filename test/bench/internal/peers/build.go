package peers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// benchModule is the module the workers are built from.
const benchModule = "github.com/isolated-workers/isolated-workers-go/test/bench"

// Workers is a directory of freshly built worker binaries.
type Workers struct {
	Dir string
}

// Path returns the path of the worker binary called name.
func (w *Workers) Path(name string) string { return filepath.Join(w.Dir, name) }

// Remove deletes the directory.
func (w *Workers) Remove() error { return os.RemoveAll(w.Dir) }

// Build compiles every worker binary (./workers/...) into a new temporary
// directory with the go command. It must run inside the bench module
// (test/bench or below).
func Build(ctx context.Context) (*Workers, error) {
	modDir, err := moduleDir(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "iw-bench-")
	if err != nil {
		return nil, fmt.Errorf("build workers: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./workers/...")
	cmd.Dir = modDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build workers in %s: %w\n%s", modDir, err, out.Bytes())
	}
	w := &Workers{Dir: dir}
	for _, p := range All() {
		if _, err := os.Stat(w.Path(p.Binary)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("build workers: %w", err)
		}
	}
	return w, nil
}

// moduleDir finds the bench module's directory from the working directory.
func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	data, err := os.ReadFile(gomod)
	if err != nil || !bytes.Contains(data, []byte("module "+benchModule+"\n")) {
		return "", fmt.Errorf("run the benchmark from the bench module (cd test/bench); the working directory's module is %q", gomod)
	}
	return filepath.Dir(gomod), nil
}
