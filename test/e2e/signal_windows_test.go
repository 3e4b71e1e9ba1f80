//go:build windows

package e2e

import (
	"errors"
	"os"
)

// killPID ends pid at once.
func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// stopPID would freeze pid; Windows has no SIGSTOP.
func stopPID(int) error { return errors.ErrUnsupported }
