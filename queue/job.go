package queue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
)

// Headers the queue sets on every job message. A Job's own Headers must not
// use them, nor any key starting with "Nats-" (JetStream's).
const (
	HeaderJobID   = "Iw-Job-Id"
	HeaderJobType = "Iw-Job-Type"
	// HeaderRedrives counts how often a job was re-driven from the dead
	// letters.
	HeaderRedrives = "Iw-Redrives"
)

// MaxJobIDLen bounds Job.ID: it becomes a message ID, a subject token and a
// key-value key.
const MaxJobIDLen = 512

// Job is a unit of work in the queue.
type Job struct {
	// ID identifies the job: its de-duplication key on Enqueue, and the key
	// of its status, attempt errors and dead letter. Required; any string
	// up to MaxJobIDLen bytes. Handlers run at least once per job, so
	// they should use the ID to make their effects idempotent.
	ID string

	// Type names the kind of job: a subject token, so letters, digits, '-'
	// and '_'. Jobs of one type are delivered in the order they were
	// enqueued (first in, first out; there are no priorities); retries and
	// delays take a job out of that order.
	Type string

	// Payload is the job's input, opaque to the queue.
	Payload []byte

	// Headers travel with the job. Enqueue adds the W3C trace context
	// (traceparent, tracestate) of its ctx unless Headers already carries
	// a traceparent.
	Headers map[string]string

	// Delay postpones the job's first delivery; see Enqueue.
	Delay time.Duration

	// Attempt is set on a job handed to a ConsumerConfig.Handler: its
	// delivery count, 1 on the first delivery.
	Attempt int

	redrives int // from HeaderRedrives
}

// EnqueueResult is what Enqueue stored.
type EnqueueResult struct {
	// Sequence is the job's (or, with a Delay, its schedule's) sequence
	// number in the jobs stream.
	Sequence uint64
	// Duplicate is true when the ID was already enqueued within the
	// duplicate window; Enqueue then also returns ErrDuplicate.
	Duplicate bool
	// RunAt is when a delayed job becomes deliverable; zero without Delay.
	RunAt time.Time
}

// Enqueue stores job durably and returns once the engine has confirmed it.
//
// The job ID is the message ID: a second Enqueue of the same ID within
// Config.DuplicateWindow stores nothing and returns ErrDuplicate (with
// Duplicate set in the result), so a client may retry an Enqueue whose
// outcome it did not see without running the job twice.
//
// A job with a Delay is stored as a JetStream message schedule (JetStream
// 2.12+ "@at" schedules) on <name>.sched.<type>.<id>; the engine publishes
// it to <name>.jobs.<type> at the due time, rounded up to a whole second
// (the schedule's resolution). Until then it is not delivered to any
// consumer, and it survives restarts like any other job.
func (q *Queue) Enqueue(ctx context.Context, job Job) (EnqueueResult, error) {
	return q.enqueue(ctx, job, job.ID)
}

// enqueue publishes job with msgID as its de-duplication key.
func (q *Queue) enqueue(ctx context.Context, job Job, msgID string) (EnqueueResult, error) {
	if err := validateJob(job); err != nil {
		return EnqueueResult{}, err
	}
	if q.isClosed() {
		return EnqueueResult{}, fmt.Errorf("enqueue job %q: %w", job.ID, ErrClosed)
	}
	hd := maps.Clone(job.Headers)
	if hd == nil {
		hd = map[string]string{}
	}
	if _, ok := hd["traceparent"]; !ok {
		propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(hd))
	}
	msg := &nats.Msg{Data: job.Payload, Header: make(nats.Header, len(hd)+2)}
	for k, v := range hd {
		msg.Header[k] = []string{v}
	}
	msg.Header[HeaderJobID] = []string{job.ID}
	msg.Header[HeaderJobType] = []string{job.Type}
	if job.redrives > 0 {
		msg.Header[HeaderRedrives] = []string{strconv.Itoa(job.redrives)}
	}

	opts := []jetstream.PublishOpt{jetstream.WithMsgID(msgID), jetstream.WithExpectStream(q.n.jobsStream)}
	var res EnqueueResult
	if job.Delay > 0 {
		res.RunAt = ceilSecond(time.Now().Add(job.Delay))
		msg.Subject = q.n.schedSubject(job.Type, job.ID)
		opts = append(opts, jetstream.WithScheduleAt(res.RunAt), jetstream.WithScheduleTarget(q.n.jobSubject(job.Type)))
	} else {
		msg.Subject = q.n.jobSubject(job.Type)
	}
	ack, err := q.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("enqueue job %q: %w", job.ID, err)
	}
	res.Sequence = ack.Sequence
	if ack.Duplicate {
		res.Duplicate = true
		return res, fmt.Errorf("enqueue job %q: %w", job.ID, ErrDuplicate)
	}
	return res, nil
}

func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

func validateJob(job Job) error {
	switch {
	case job.ID == "":
		return errors.New("enqueue: job ID is empty")
	case len(job.ID) > MaxJobIDLen:
		return fmt.Errorf("enqueue job %.40q...: ID is %d bytes, more than MaxJobIDLen (%d)", job.ID, len(job.ID), MaxJobIDLen)
	case !plainToken(job.Type):
		return fmt.Errorf("enqueue job %q: type %q: use letters, digits, '-' and '_' only", job.ID, job.Type)
	case job.Delay < 0:
		return fmt.Errorf("enqueue job %q: Delay must not be negative, got %v", job.ID, job.Delay)
	}
	for k := range job.Headers {
		if reservedHeader(k) {
			return fmt.Errorf("enqueue job %q: header %q is reserved for the queue", job.ID, k)
		}
		if k == "" || strings.ContainsAny(k, ": \t\r\n") {
			return fmt.Errorf("enqueue job %q: header %q is not a valid header name", job.ID, k)
		}
	}
	return nil
}

func reservedHeader(k string) bool {
	l := strings.ToLower(k)
	return strings.HasPrefix(l, "nats-") || strings.HasPrefix(l, "iw-")
}

// jobFromMsg rebuilds the Job a message carries.
func jobFromMsg(m jetstream.Msg) Job {
	h := m.Headers()
	job := Job{
		ID:      h.Get(HeaderJobID),
		Type:    h.Get(HeaderJobType),
		Payload: m.Data(),
	}
	job.redrives, _ = strconv.Atoi(h.Get(HeaderRedrives))
	for k, v := range h {
		if len(v) == 0 || reservedHeader(k) {
			continue
		}
		if job.Headers == nil {
			job.Headers = make(map[string]string, len(h))
		}
		job.Headers[k] = v[0]
	}
	return job
}

func (q *Queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
