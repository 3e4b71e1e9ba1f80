package plugin

import "github.com/isolated-workers/isolated-workers-go/internal/handshakewire"

// restrictSocket does nothing on Windows, where a file mode is only a
// read-only flag: the socket is in the host's private directory under the
// user's temporary directory, whose access list admits only that user,
// administrators and SYSTEM. Connecting also needs the auth token.
func restrictSocket(env handshakewire.Env) error { return nil }
