package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileTail(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("0123456789", 1000)
	tests := []struct {
		name    string
		content *string // nil: no file
		n       int64
		want    string
	}{
		{"missing file", nil, 10, ""},
		{"short file", ptr("short"), 10, "short"},
		{"long file", &long, 10, "0123456789"},
		{"last bytes", ptr("abcdefghij"), 3, "hij"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i)))
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := fileTail(path, tt.n); got != tt.want {
				t.Errorf("fileTail(%q, %d) = %q, want %q", tt.name, tt.n, got, tt.want)
			}
		})
	}
}

func TestBaseName(t *testing.T) {
	if got := baseName("/usr/local/bin/resize"); got != "resize" {
		t.Errorf("baseName(/usr/local/bin/resize) = %q, want resize", got)
	}
}

func TestPidAlive(t *testing.T) {
	if !pidAlive(os.Getpid()) {
		t.Error("pidAlive(own pid) = false")
	}
	if !pidAlive(1) {
		t.Error("pidAlive(1) = false; init is always there (EPERM would still mean alive)")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Until Wait reaps it, the exited child is a zombie: gone for pidAlive.
	if !waitGone(pid, 5*time.Second) {
		t.Errorf("exited, unreaped child %d still counts as alive", pid)
	}
	cmd.Wait()
	if pidAlive(pid) {
		t.Errorf("reaped child %d counts as alive", pid)
	}
}
