package plugin

import (
	"os"

	"golang.org/x/sys/windows"
)

// dupFile returns a new handle for f, to pass as handshakewire.Env.ReadyFD.
func dupFile(f *os.File) (int, error) {
	self := windows.CurrentProcess()
	var h windows.Handle
	if err := windows.DuplicateHandle(self, windows.Handle(f.Fd()), self, &h, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return 0, err
	}
	return int(h), nil
}
