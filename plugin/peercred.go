package plugin

import "strconv"

// peerCred is who is on the other end of an accepted connection, as the
// kernel reports it (SO_PEERCRED), not as the peer claims in its hello.
// pid and uid are -1 where the platform does not tell.
type peerCred struct {
	pid, uid int
}

func (p peerCred) String() string {
	if p.pid < 0 {
		return "unknown process"
	}
	return "pid " + strconv.Itoa(p.pid) + " (uid " + strconv.Itoa(p.uid) + ")"
}

// attrs returns p as log attributes.
func (p peerCred) attrs() []any { return []any{"peer_pid", p.pid, "peer_uid", p.uid} }
