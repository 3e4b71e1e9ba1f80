//go:build unix

package plugintest

import (
	"os"
	"syscall"
)

// dupFile returns a new descriptor for f, for the in-process worker's
// ready pipe (handshakewire.Env.ReadyFD).
func dupFile(f *os.File) (int, error) { return syscall.Dup(int(f.Fd())) }
