package plugin

import (
	"net"
	"syscall"
)

// peerOf asks the kernel who connected c.
func peerOf(c net.Conn) peerCred {
	p := peerCred{pid: -1, uid: -1}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return p
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return p
	}
	rc.Control(func(fd uintptr) {
		if u, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			p = peerCred{pid: int(u.Pid), uid: int(u.Uid)}
		}
	})
	return p
}
