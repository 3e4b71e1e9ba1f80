package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/isolated-workers/isolated-workers-go/shared/action"
)

// DeadLetters is the queue's durable dead-letter store: the dead-letter
// stream (<NAME>_DEAD), one message per job that failed for good, bounded
// by Config.DeadLetterMaxEntries (oldest dropped first) and
// Config.DeadLetterRetention. Entries survive restarts and are shared by
// every host of the queue. It implements action.DeadLetterSink, so a
// pipeline can record into it with action.WithDeadLetter.
//
// An entry's ID is its sequence number in the stream (decimal). Its Input
// is the Job (with Attempt 0); Err is the last attempt's error and Errors
// every attempt's, as *AttemptError values that keep their faults class.
//
// Methods are safe for concurrent use.
type DeadLetters struct {
	q *Queue
}

var _ action.DeadLetterSink = (*DeadLetters)(nil)

// deadRecord is the JSON body of a dead-letter message.
type deadRecord struct {
	Job      Job               `json:"-"`
	JobID    string            `json:"jobId"`
	Type     string            `json:"type,omitempty"`
	Payload  []byte            `json:"payload,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Input    json.RawMessage   `json:"input,omitempty"` // an action.Entry's Input that is not a Job
	WorkerID string            `json:"workerId,omitempty"`
	Action   string            `json:"action,omitempty"`
	Errors   []AttemptError    `json:"errors"`
	Attempts int               `json:"attempts"`
	Redrives int               `json:"redrives,omitempty"`
	Time     time.Time         `json:"time"`
}

// put stores rec and returns its sequence.
func (d *DeadLetters) put(ctx context.Context, rec deadRecord) (uint64, error) {
	if rec.Job.ID != "" {
		rec.JobID, rec.Type, rec.Payload, rec.Headers = rec.Job.ID, rec.Job.Type, rec.Job.Payload, rec.Job.Headers
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("dead-letter job %q: encode: %w", rec.JobID, err)
	}
	ack, err := d.q.js.Publish(ctx, d.q.n.deadSubject(rec.JobID), b, jetstream.WithExpectStream(d.q.n.deadStream))
	if err != nil {
		return 0, fmt.Errorf("dead-letter job %q: %w", rec.JobID, err)
	}
	return ack.Sequence, nil
}

// Record stores e (action.DeadLetterSink). e.Input may be a Job (then the
// entry can be re-driven), []byte (the payload) or any value that encodes
// as JSON.
func (d *DeadLetters) Record(ctx context.Context, e action.Entry) (action.Entry, error) {
	rec := deadRecord{
		JobID:    e.JobID,
		Headers:  e.Headers,
		WorkerID: e.WorkerID,
		Action:   e.Action,
		Attempts: e.Attempts,
		Redrives: e.Redrives,
	}
	switch in := e.Input.(type) {
	case Job:
		rec.Job = in
		rec.Job.Attempt = 0
		if rec.JobID != "" {
			rec.Job.ID = rec.JobID
		}
	case []byte:
		rec.Payload = in
	case nil:
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return action.Entry{}, fmt.Errorf("dead-letter job %q: encode input: %w", e.JobID, err)
		}
		rec.Input = b
	}
	errs := e.Errors
	if len(errs) == 0 && e.Err != nil {
		errs = action.AttemptErrors(e.Err)
	}
	for i, err := range errs {
		ae := newAttemptError(i+1, err, e.WorkerID)
		var prev *AttemptError
		if errors.As(err, &prev) {
			ae = prev
		}
		rec.Errors = append(rec.Errors, *ae)
	}
	if rec.Attempts == 0 {
		rec.Attempts = len(rec.Errors)
	}
	if rec.JobID == "" && rec.Job.ID != "" {
		rec.JobID = rec.Job.ID
	}
	seq, err := d.put(ctx, rec)
	if err != nil {
		return action.Entry{}, err
	}
	return d.Get(ctx, strconv.FormatUint(seq, 10))
}

// List returns the entries, oldest first.
func (d *DeadLetters) List(ctx context.Context) ([]action.Entry, error) {
	var out []action.Entry
	for seq := uint64(1); ; {
		m, err := d.q.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(d.q.n.dead+".>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("list dead letters: %w", err)
		}
		e, err := entryFrom(m)
		if err != nil {
			return out, err
		}
		out = append(out, e)
		seq = m.Sequence + 1
	}
}

// Get returns the entry with the given ID, or an error wrapping
// ErrNotFound.
func (d *DeadLetters) Get(ctx context.Context, id string) (action.Entry, error) {
	seq, err := parseID(id)
	if err != nil {
		return action.Entry{}, err
	}
	m, err := d.q.dead.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return action.Entry{}, fmt.Errorf("dead letter %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return action.Entry{}, fmt.Errorf("dead letter %s: %w", id, err)
	}
	return entryFrom(m)
}

// Remove deletes the entry with the given ID; an unknown ID is an error
// wrapping ErrNotFound.
func (d *DeadLetters) Remove(ctx context.Context, id string) error {
	seq, err := parseID(id)
	if err != nil {
		return err
	}
	if err := d.q.dead.DeleteMsg(ctx, seq); err != nil {
		// The engine reports a missing message as a failed delete; ask.
		if _, gerr := d.q.dead.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("remove dead letter %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("remove dead letter %s: %w", id, err)
	}
	return nil
}

// Redrive enqueues the job of entry id again, as a fresh job with the same
// ID, type, payload and headers (its Redrives count one higher), then
// removes the entry. A Redrive of the same entry that is retried (after an
// error or a crash between the two steps) does not enqueue the job twice:
// the re-enqueue is de-duplicated by entry within the duplicate window.
func (d *DeadLetters) Redrive(ctx context.Context, id string) (EnqueueResult, error) {
	e, err := d.Get(ctx, id)
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("redrive: %w", err)
	}
	job, ok := e.Input.(Job)
	if !ok || job.Type == "" {
		return EnqueueResult{}, fmt.Errorf("redrive dead letter %s: job %q was recorded without a job type, so it cannot be enqueued; run it yourself and Remove it", id, e.JobID)
	}
	job.redrives = e.Redrives + 1
	res, err := d.q.enqueue(ctx, job, job.ID+"#redrive-"+id)
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return res, fmt.Errorf("redrive dead letter %s: %w", id, err)
	}
	if err := d.Remove(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return res, fmt.Errorf("redrive dead letter %s: job re-enqueued, but %w", id, err)
	}
	return res, nil
}

// Len returns the number of entries.
func (d *DeadLetters) Len(ctx context.Context) (int, error) {
	info, err := d.q.dead.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return int(info.State.Msgs), nil
}

func parseID(id string) (uint64, error) {
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("dead letter %q: not an entry ID (a stream sequence number): %w", id, ErrNotFound)
	}
	return seq, nil
}

// entryFrom decodes a dead-letter message.
func entryFrom(m *jetstream.RawStreamMsg) (action.Entry, error) {
	var rec deadRecord
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return action.Entry{}, fmt.Errorf("dead letter %d: decode: %w", m.Sequence, err)
	}
	e := action.Entry{
		ID:       strconv.FormatUint(m.Sequence, 10),
		JobID:    rec.JobID,
		WorkerID: rec.WorkerID,
		Action:   rec.Action,
		Headers:  rec.Headers,
		Attempts: rec.Attempts,
		Redrives: rec.Redrives,
		Time:     rec.Time,
	}
	switch {
	case rec.Input != nil:
		e.Input = rec.Input
	default:
		e.Input = Job{ID: rec.JobID, Type: rec.Type, Payload: rec.Payload, Headers: rec.Headers}
	}
	for i := range rec.Errors {
		e.Errors = append(e.Errors, &rec.Errors[i])
	}
	if n := len(e.Errors); n > 0 {
		e.Err = e.Errors[n-1]
	}
	return e, nil
}
