package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// AttemptError is the recorded error of one failed attempt of a job. It
// keeps the error's text, faults class and code, so errors.As, faults.ClassOf
// and faults.CodeOf work on it after it has been stored and read back.
type AttemptError struct {
	Attempt  int          `json:"attempt"`
	Message  string       `json:"error"`
	Class    faults.Class `json:"class,omitempty"`
	Code     string       `json:"code,omitempty"`
	WorkerID string       `json:"workerId,omitempty"`
	Time     time.Time    `json:"time"`
}

func (e *AttemptError) Error() string            { return e.Message }
func (e *AttemptError) FaultClass() faults.Class { return e.Class }
func (e *AttemptError) FaultCode() string        { return e.Code }

var (
	_ faults.Classifier = (*AttemptError)(nil)
	_ faults.Coder      = (*AttemptError)(nil)
)

func newAttemptError(attempt int, err error, workerID string) *AttemptError {
	return &AttemptError{
		Attempt:  attempt,
		Message:  err.Error(),
		Class:    faults.ClassOf(err),
		Code:     faults.CodeOf(err),
		WorkerID: workerID,
		Time:     time.Now(),
	}
}

// maxAttemptConflicts bounds the compare-and-set loop in recordAttempt;
// two hosts only write one job's record at once after a re-delivery race.
const maxAttemptConflicts = 5

// recordAttempt appends e to the job's attempt errors in the attempts
// bucket and returns them all, oldest first.
func (q *Queue) recordAttempt(ctx context.Context, jobID string, e *AttemptError) ([]AttemptError, error) {
	key := token(jobID)
	var lastErr error
	for range maxAttemptConflicts {
		var errs []AttemptError
		var rev uint64
		entry, err := q.attempts.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return nil, fmt.Errorf("read attempts of job %q: %w", jobID, err)
		default:
			rev = entry.Revision()
			if err := json.Unmarshal(entry.Value(), &errs); err != nil {
				errs = nil // a damaged record must not block the job
			}
		}
		errs = append(errs, *e)
		b, err := json.Marshal(errs)
		if err != nil {
			return nil, fmt.Errorf("encode attempts of job %q: %w", jobID, err)
		}
		if rev == 0 {
			_, err = q.attempts.Create(ctx, key, b)
		} else {
			_, err = q.attempts.Update(ctx, key, b, rev)
		}
		if err == nil {
			return errs, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return errs, fmt.Errorf("store attempts of job %q: %w", jobID, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("store attempts of job %q: %d conflicting writers: %w", jobID, maxAttemptConflicts, lastErr)
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// forgetAttempts drops the job's attempt errors (it completed or was
// dead-lettered). Failure only leaves a record that expires with the
// bucket's TTL.
func (q *Queue) forgetAttempts(ctx context.Context, jobID string) {
	if err := q.attempts.Purge(ctx, token(jobID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		q.cfg.Logger.Debug("dropping a job's attempt errors failed; they expire with the bucket's TTL", "job", jobID, "error", err)
	}
}
