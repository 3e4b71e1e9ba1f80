package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSocketDir(t *testing.T) {
	dir, path, _, err := UnixSocketConfig{}.socketDir()
	if err != nil {
		t.Fatalf("socketDir() = %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if len(path) > maxSocketPath {
		t.Errorf("socket path %q is %d bytes, want at most %d", path, len(path), maxSocketPath)
	}
	if want := filepath.Join(dir, "s"); path != want {
		t.Errorf("socket path = %q, want %q", path, want)
	}
	if !strings.HasPrefix(filepath.Base(dir), "iw-") {
		t.Errorf("directory %q does not start with iw- (Attach relies on it)", dir)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("mode of %s = %v, want drwx------", dir, got)
	}
}

func TestSocketDirUnique(t *testing.T) {
	a, _, _, err := UnixSocketConfig{}.socketDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(a) })
	b, _, _, err := UnixSocketConfig{}.socketDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(b) })
	if a == b {
		t.Errorf("socketDir() returned %q twice", a)
	}
}

func TestSocketDirDeepTMPDIR(t *testing.T) {
	deep := t.TempDir()
	for len(deep) <= 2*maxSocketPath {
		deep = filepath.Join(deep, "a-rather-long-directory-name")
	}
	if err := os.MkdirAll(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", deep)

	dir, path, _, err := UnixSocketConfig{}.socketDir()
	if err != nil {
		t.Fatalf("socketDir() with TMPDIR=%s = %v, want a fallback to /tmp", deep, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if !strings.HasPrefix(dir, "/tmp/iw-") {
		t.Errorf("socketDir() with a deep TMPDIR = %q, want a directory under /tmp", dir)
	}
	if len(path) > maxSocketPath {
		t.Errorf("socket path %q is %d bytes, want at most %d", path, len(path), maxSocketPath)
	}
	left, err := os.ReadDir(deep)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("socketDir left %d entries in the too-deep TMPDIR, want none (%v)", len(left), left[0].Name())
	}
}

func TestRandomToken(t *testing.T) {
	a, b := randomToken(), randomToken()
	if len(a) != 64 {
		t.Errorf("randomToken() = %q, %d characters, want 64 hex digits", a, len(a))
	}
	if a == b {
		t.Errorf("randomToken() returned %q twice", a)
	}
}
