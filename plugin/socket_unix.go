//go:build unix

package plugin

import (
	"fmt"
	"os"
	"strconv"

	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

// restrictSocket lets only this user connect to the socket (mode 0600), in
// a directory the host made 0700; with a socket group from the host
// (host.UnixSocketConfig.Group) the socket goes to that group, mode 0660.
func restrictSocket(env handshakewire.Env) error {
	mode := os.FileMode(0o600)
	if env.SocketGroup != "" {
		gid, _ := strconv.Atoi(env.SocketGroup) // ParseEnv checked it
		if err := os.Chown(env.SocketPath, -1, gid); err != nil {
			return fmt.Errorf("chown socket %s to group %d: %w", env.SocketPath, gid, err)
		}
		mode = 0o660
	}
	if err := os.Chmod(env.SocketPath, mode); err != nil {
		return fmt.Errorf("chmod socket %s: %w", env.SocketPath, err)
	}
	return nil
}
