//go:build unix

package plugin

import (
	"os"
	"syscall"
)

// dupFile returns a new descriptor for f, to pass as handshakewire.Env.ReadyFD.
func dupFile(f *os.File) (int, error) { return syscall.Dup(int(f.Fd())) }
