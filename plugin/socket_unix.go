//go:build unix

package plugin

import "os"

// restrictSocket lets only this user connect to the socket (mode 0600), in
// a directory the host made 0700.
func restrictSocket(path string) error { return os.Chmod(path, 0o600) }
