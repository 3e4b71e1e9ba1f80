package host

import (
	"errors"
	"fmt"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors a caller can match with errors.Is.
var (
	// ErrWorkerClosed: the worker was closed; pending and new calls fail.
	ErrWorkerClosed = errors.New("worker closed")
	// ErrShuttingDown: Shutdown is waiting for pending calls; new calls fail.
	ErrShuttingDown = errors.New("worker is shutting down")
	// ErrDisconnected: the host disconnected (Disconnect); call Reconnect.
	ErrDisconnected = errors.New("worker disconnected")
	// ErrConnectionLost: the connection broke while the worker may still
	// run; pending calls fail at once with it. Reconnect may help.
	ErrConnectionLost = errors.New("connection to worker lost")
	// ErrWorkerTerminated: the worker process is gone.
	ErrWorkerTerminated = errors.New("worker process terminated")
	// ErrStaleReattach: a ReattachConfig no longer names a live worker.
	ErrStaleReattach = errors.New("stale reattach config")
)

// ExitError reports a worker process that exited: during start-up, or while
// calls were pending. It unwraps to ErrWorkerTerminated. Error quotes the
// last MaxErrorStderr bytes of the stderr tail, so control bytes and
// binary output are escaped and the text stays one short line.
type ExitError struct {
	Name     string
	PID      int
	ExitCode int    // -1 when killed by a signal
	Signal   string // e.g. "killed"; empty for a normal exit
	Stderr   string // the tail of the worker's stderr, raw (up to DefaultStderrTail)
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "worker %q (pid %d) ", e.Name, e.PID)
	if e.Signal != "" {
		fmt.Fprintf(&b, "killed by signal: %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exited with status %d", e.ExitCode)
	}
	if tail := strings.TrimSpace(e.Stderr); tail != "" {
		if len(tail) > MaxErrorStderr {
			tail = tail[len(tail)-MaxErrorStderr:]
			for i := 0; i < utf8.UTFMax && len(tail) > 0 && !utf8.RuneStart(tail[0]); i++ {
				tail = tail[1:] // start on a whole rune
			}
			fmt.Fprintf(&b, "; stderr (last %d bytes): %s", len(tail), strconv.Quote(tail))
		} else {
			fmt.Fprintf(&b, "; stderr: %s", strconv.Quote(tail))
		}
	}
	return b.String()
}

// MaxErrorStderr is how much of the worker's stderr tail ExitError.Error
// quotes: its last bytes, which usually hold the panic or the fatal
// message. The Stderr field keeps the whole tail (DefaultStderrTail).
const MaxErrorStderr = 512

func (e *ExitError) Unwrap() error { return ErrWorkerTerminated }

// RefusedError is the worker's refusal of a connection, in its own words
// (wrong token, serializer mismatch or collision, a host already attached).
// Code is the refusal's handshake.Code* constant ("" from an older
// worker). A refusal for a mismatch unwraps to the typed error, so
// errors.As finds a *handshake.SerializerMismatchError,
// *handshake.SerializerCollisionError or *handshake.VersionMismatchError,
// as it does for the same mismatch reported by Start.
type RefusedError = peer.RefusedError
