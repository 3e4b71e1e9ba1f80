package queue

import (
	"errors"

	"github.com/isolated-workers/isolated-workers-go/shared/action"
)

// Errors callers can match with errors.Is.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("queue is closed")

	// ErrDuplicate is returned by Enqueue when a job with the same ID was
	// enqueued within the duplicate window; the job is queued once. A
	// client that retries an Enqueue may treat it as success.
	ErrDuplicate = errors.New("job id already enqueued within the duplicate window")

	// ErrNotFound is action.ErrNotFound: a dead-letter entry that does not
	// exist (or no longer does).
	ErrNotFound = action.ErrNotFound
)
