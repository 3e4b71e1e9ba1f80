// Package browser runs headless Chromium for the tests that look at the
// status page as a person would. It is test support: nothing users import.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// ErrNoBrowser: no Chromium is installed and installing one was not asked
// for (set IW_BROWSER_TESTS=1, as `make test` does).
var ErrNoBrowser = errors.New("no chromium found; run scripts/ensure-chromium.sh or set IW_BROWSER_TESTS=1")

// Find returns the path of a Chromium binary. With IW_BROWSER_TESTS=1 it
// installs Debian's chromium through scripts/ensure-chromium.sh when none is
// found.
func Find(ctx context.Context) (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if os.Getenv("IW_BROWSER_TESTS") != "1" {
		return "", ErrNoBrowser
	}
	out, err := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(), "scripts", "ensure-chromium.sh")).Output()
	if err != nil {
		return "", fmt.Errorf("install chromium: %w", err)
	}
	return string(bytes.TrimSpace(out)), nil
}

// DumpDOM loads url in headless Chromium, lets its scripts run for budget
// of virtual time, and returns the serialized DOM.
func DumpDOM(ctx context.Context, chromium, url string, budget time.Duration) (string, error) {
	profile, err := os.MkdirTemp("", "iw-chromium-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(profile)
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile,
		"--virtual-time-budget="+strconv.Itoa(int(budget.Milliseconds())),
		"--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("chromium --dump-dom %s: %w; stderr: %s", url, err, tail(stderr.Bytes(), 2000))
	}
	return string(out), nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// repoRoot is the module root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
