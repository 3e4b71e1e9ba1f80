package host

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// UnixSocketConfig places the worker's private socket directory, as
// go-plugin's UnixSocketConfig does. The zero value is the default: a
// directory of mode 0700 in os.TempDir(), or in /tmp when the socket path
// there would not fit sun_path.
type UnixSocketConfig struct {
	// TempDir is the existing directory the private socket directory is
	// created in. When set it is the only one tried: a socket path that
	// does not fit there is an error, not a fallback.
	TempDir string
	// Group (a group name or a numeric gid) owns the private directory and
	// the socket, with group read, write and search permission (directory
	// 0770, socket 0660), so a worker running as another user in that group
	// (see Config.Runner) can listen there and the host can connect. This
	// process must be a member of the group (or be root) for the chown to
	// succeed. Not needed when host and worker run as the same user.
	Group string
}

// Validate reports a TempDir that is not an existing directory or a Group
// that does not exist.
func (u UnixSocketConfig) Validate() error {
	if u.TempDir != "" {
		st, err := os.Stat(u.TempDir)
		if err != nil {
			return fmt.Errorf("host: UnixSocket.TempDir: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("host: UnixSocket.TempDir %s is not a directory", u.TempDir)
		}
	}
	if u.Group != "" {
		if _, err := lookupGID(u.Group); err != nil {
			return fmt.Errorf("host: UnixSocket.Group: %w", err)
		}
	}
	return nil
}

// lookupGID resolves a group name or numeric gid. An unknown name is a
// user.UnknownGroupError; a number is taken as it is (a gid need not have
// a name).
func lookupGID(group string) (int, error) {
	if gid, err := strconv.Atoi(group); err == nil {
		if gid < 0 {
			return 0, fmt.Errorf("gid %d is negative", gid)
		}
		return gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, err
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q has a gid that is not a number: %q", group, g.Gid)
	}
	return gid, nil
}

// socketDir creates the private directory (0700, or 0770 owned by the
// socket group) and a socket path in it that fits sun_path. It returns the
// group's gid, or -1 when no group is set.
func (u UnixSocketConfig) socketDir() (dir, path string, gid int, err error) {
	bases := []string{os.TempDir(), "/tmp"}
	if u.TempDir != "" {
		bases = []string{u.TempDir}
	}
	gid = -1
	if u.Group != "" {
		if gid, err = lookupGID(u.Group); err != nil {
			return "", "", -1, fmt.Errorf("socket group: %w", err)
		}
	}
	var tried []error
	for _, base := range bases {
		dir, err := os.MkdirTemp(base, "iw-")
		if err != nil {
			tried = append(tried, err)
			continue
		}
		path := filepath.Join(dir, "s")
		if len(path) > maxSocketPath {
			os.Remove(dir)
			tried = append(tried, fmt.Errorf("%s: socket path %q is %d bytes, limit %d", base, path, len(path), maxSocketPath))
			continue
		}
		if gid >= 0 {
			if err := groupWritable(dir, gid, 0o770); err != nil {
				os.Remove(dir)
				return "", "", -1, fmt.Errorf("socket directory for group %s: %w", u.Group, err)
			}
		}
		return dir, path, gid, nil
	}
	hint := "set TMPDIR to a shorter path"
	if u.TempDir != "" {
		hint = "set UnixSocket.TempDir to a shorter path"
	}
	return "", "", -1, fmt.Errorf("no directory for the worker socket: %w; %s", errors.Join(tried...), hint)
}

// groupWritable gives path to group gid with mode.
func groupWritable(path string, gid int, mode os.FileMode) error {
	if err := os.Chown(path, -1, gid); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// gidString is the handshake's form of a socket group: "" for none.
func gidString(gid int) string {
	if gid < 0 {
		return ""
	}
	return strconv.Itoa(gid)
}
