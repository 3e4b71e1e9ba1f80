package host

import (
	"errors"
	"fmt"
	"time"
)

// Errors of a Pool a caller can match with errors.Is.
var (
	// ErrPoolClosed: the pool was closed (Close, Shutdown); new and queued
	// calls fail.
	ErrPoolClosed = errors.New("pool closed")
	// ErrPoolQueueFull: every worker was busy (MaxInFlight) or starting and
	// MaxQueue calls were already waiting; the call failed at once.
	ErrPoolQueueFull = errors.New("pool queue full")
	// ErrPoolFailed: the pool went past its restart intensity limit, or it
	// could not start. The error is a *PoolFailedError.
	ErrPoolFailed = errors.New("pool failed")
)

// PoolFailedError says why a pool failed: Restarts restarts within Window
// (the intensity limit MaxRestarts in RestartWindow), and the last worker
// failure (often an *ExitError, or the error a replacement failed to start
// with). It matches ErrPoolFailed with errors.Is, and errors.As finds the
// last failure's typed error.
type PoolFailedError struct {
	Pool     string
	Restarts int
	Window   time.Duration
	Last     error
}

func (e *PoolFailedError) Error() string {
	return fmt.Sprintf("pool %q failed: %d worker restarts within %v, past its limit (MaxRestarts); last: %v",
		e.Pool, e.Restarts, e.Window, e.Last)
}

// Unwrap returns ErrPoolFailed and the last failure.
func (e *PoolFailedError) Unwrap() []error { return []error{ErrPoolFailed, e.Last} }
