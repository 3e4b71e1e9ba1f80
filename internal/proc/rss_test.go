package proc

import (
	"os"
	"testing"
)

func TestRSSOfSelf(t *testing.T) {
	n, err := RSS(os.Getpid())
	if err != nil {
		t.Fatalf("RSS(self) error: %v", err)
	}
	if n < 1<<20 {
		t.Errorf("RSS(self) = %d bytes, want at least 1 MiB", n)
	}
}
