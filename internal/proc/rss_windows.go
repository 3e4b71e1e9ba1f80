package proc

import (
	"errors"
	"fmt"
)

// RSS is not implemented on Windows: it returns an error matching
// errors.ErrUnsupported.
func RSS(pid int) (uint64, error) {
	return 0, fmt.Errorf("read rss of pid %d: %w", pid, errors.ErrUnsupported)
}
