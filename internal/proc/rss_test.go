package proc

import (
	"os"
	"runtime"
	"testing"
)

func TestRSSOfSelf(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("RSS is not implemented on Windows")
	}
	n, err := RSS(os.Getpid())
	if err != nil {
		t.Fatalf("RSS(self) error: %v", err)
	}
	if n < 1<<20 {
		t.Errorf("RSS(self) = %d bytes, want at least 1 MiB", n)
	}
}
