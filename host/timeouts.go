package host

import (
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/wire"
)

// Every wait of the host on another process that is not a Config field is
// bounded by one of these. The Config fields (StartupTimeout, CallTimeout,
// GracePeriod, Connection) are documented with their defaults in config.go.
const (
	// helloTimeout bounds the wait for the worker's answer to the hello
	// (or the start's context deadline, if earlier).
	helloTimeout = 10 * time.Second
	// controlWriteTimeout bounds writing one control message (shutdown,
	// goodbye): a worker that stopped reading must not hold up Close.
	controlWriteTimeout = time.Second
	// lostExitWait bounds how long a broken connection waits for the
	// worker's exit before it is reported as ErrConnectionLost: the socket
	// breaks as the process dies, a moment before it can be reaped.
	lostExitWait = 250 * time.Millisecond
	// startExitWait is how long a start whose dial failed waits for the
	// worker's exit, to report the exit (the likely cause) instead of the
	// dial error.
	startExitWait = 50 * time.Millisecond
	// warnEvery is the least time between two warnings about the same
	// kind of flood from a worker (replies for unknown ids, wrong kinds);
	// each warning counts what it stands for.
	warnEvery = time.Second
)

// rawStallTimeout bounds the wait for the rest of a raw reply body once it
// has started (wire.RawStallTimeout); a variable so tests can shorten it.
var rawStallTimeout = wire.RawStallTimeout
