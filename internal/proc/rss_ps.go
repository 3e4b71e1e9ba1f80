//go:build unix && !linux

package proc

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// RSS returns the resident set size of process pid in bytes, as ps reports
// it (in KiB).
func RSS(pid int) (uint64, error) {
	out, err := exec.Command("ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return 0, fmt.Errorf("read rss of pid %d: ps: %w", pid, err)
	}
	kib, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read rss of pid %d: %w", pid, err)
	}
	return kib << 10, nil
}
