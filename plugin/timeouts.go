package plugin

import "time"

// Every wait of the worker on another process is bounded by one of these,
// and every limit on what a peer may make the worker hold is named here.
// Config fields cover what users tune (HostConnectTimeout); the rest are
// fixed because no well-behaved host comes near them.
const (
	// helloTimeout bounds how long an accepted connection may take to open
	// its first stream and say hello, and how long any later stream may
	// take to send its name. A host sends both at once.
	helloTimeout = 10 * time.Second

	// claimWait bounds how long a new host waits for the previous
	// connection's clean-up. A host that exits (or disconnects) and a new
	// one that connects at once race the worker noticing the end of the old
	// session; the new one waits for that instead of being refused.
	claimWait = 2 * time.Second

	// refuseLinger bounds how long the worker keeps a refused connection
	// open after writing the refusal, waiting for the peer to read it and
	// hang up. A host closes at once; a peer that does not is cut off.
	refuseLinger = time.Second

	// goodbyeFlushTimeout bounds how long a goodbye waits for the log
	// records and events queued for the host to be written. A host that
	// stopped reading them must not keep the worker from leaving.
	goodbyeFlushTimeout = 2 * time.Second

	// goodbyeWriteTimeout bounds the write of the goodbye itself.
	goodbyeWriteTimeout = time.Second

	// acceptRetryDelay is the pause after a failed Accept (for example
	// out of descriptors) before the next one, so the loop does not spin.
	acceptRetryDelay = 50 * time.Millisecond

	// refusalLogInterval is the most often the worker logs a warning about
	// refused connections; refusals in between are counted into the next
	// warning.
	refusalLogInterval = time.Second
)

// maxUnauthenticated bounds the connections that have not passed the hello
// yet. A connection beyond it is closed at once, before the worker reads or
// allocates anything for it. A host needs one; the rest are spare for a
// host that reconnects while its old connection is being cleaned up.
const maxUnauthenticated = 16
