package proc

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// isZombie reads the state in /proc/<pid>/stat. known is false when the
// state cannot be read.
func isZombie(pid int) (zombie, known bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return true, true // gone between the signal and the read
		}
		return false, false
	}
	state, _, ok := statFields(b)
	if !ok {
		return false, false
	}
	return state == 'Z' || state == 'X', true
}

// statFields returns the state and the process group of a /proc/<pid>/stat
// line. The state follows the command name in parentheses, which may itself
// contain ")".
func statFields(b []byte) (state byte, pgrp int, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	// ") S ppid pgrp ..."
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pgrp, true
}

// groupMembers lists the live processes whose process group is pgid.
func groupMembers(pgid int) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if state, pg, ok := statFields(b); ok && pg == pgid && state != 'Z' && state != 'X' {
			out = append(out, pid)
		}
	}
	return out, nil
}
