//go:build unix && !linux

package proc

import (
	"bytes"
	"os/exec"
	"strconv"
)

// isZombie asks ps for the process state: macOS and the BSDs have no
// /proc to read it from. known is false when ps cannot tell.
func isZombie(pid int) (zombie, known bool) {
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		// ps exits 1 when no such process exists: gone.
		if _, ok := err.(*exec.ExitError); ok && len(bytes.TrimSpace(out)) == 0 {
			return true, true
		}
		return false, false
	}
	s := bytes.TrimSpace(out)
	if len(s) == 0 {
		return false, false
	}
	return s[0] == 'Z', true
}

// groupMembers lists the live processes whose process group is pgid.
func groupMembers(pgid int) ([]int, error) {
	out, err := exec.Command("ps", "-A", "-o", "pid=", "-o", "pgid=", "-o", "stat=").Output()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, line := range bytes.Split(out, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 3 {
			continue
		}
		pid, err1 := strconv.Atoi(string(f[0]))
		pg, err2 := strconv.Atoi(string(f[1]))
		if err1 != nil || err2 != nil || pg != pgid || f[2][0] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
