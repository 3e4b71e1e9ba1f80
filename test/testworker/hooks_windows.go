package main

import (
	"fmt"
	"os"
)

// dropHostSockets is not available on Windows (it finds the sockets in
// /proc/self/fd): the worker exits, and the tests that use it do not run
// there.
func dropHostSockets() {
	fmt.Fprintln(os.Stderr, "testworker: dropHostSockets is not available on windows")
	os.Exit(7)
}
