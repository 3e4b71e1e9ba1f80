//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dropHostSockets shuts down every connected Unix socket of this process
// (not the listener), as a broken connection would, while the worker keeps
// running.
func dropHostSockets() {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if listening, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || listening == 1 {
			continue
		}
		if sa, err := syscall.Getsockname(fd); err == nil {
			if _, ok := sa.(*syscall.SockaddrUnix); ok {
				syscall.Shutdown(fd, syscall.SHUT_RDWR)
			}
		}
	}
}
