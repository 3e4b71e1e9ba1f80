package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// StatusPublisher stores every status event as its job's latest state in
// the status bucket (<name>-status, key: the job ID), which republishes it
// on the job's subject <name>.status.<job ID> (IDs that are not made of
// letters, digits, '-' and '_' appear base64-encoded: "b64.<...>"). It
// never blocks for long: the write is asynchronous, and a write the
// engine refuses is counted (Stats) and logged, not retried.
type StatusPublisher struct {
	q         *Queue
	published atomic.Uint64
	dropped   atomic.Uint64
}

var _ status.Publisher = (*StatusPublisher)(nil)

// StatusStats counts what a StatusPublisher did.
type StatusStats struct {
	Published uint64 // events handed to the engine
	Failed    uint64 // events the engine did not store, or that could not be sent
}

// Publish stores ev; see StatusPublisher.
func (p *StatusPublisher) Publish(ev status.Event) {
	q := p.q
	if ev.JobID == "" || q.isClosed() {
		p.dropped.Add(1)
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		p.dropped.Add(1)
		q.cfg.Logger.Warn("encoding a status event failed", "job", ev.JobID, "error", err)
		return
	}
	if _, err := q.js.PublishAsync("$KV."+q.n.statusKV+"."+token(ev.JobID), b); err != nil {
		p.dropped.Add(1)
		q.cfg.Logger.Warn("sending a status event failed", "job", ev.JobID, "error", err)
		return
	}
	p.published.Add(1)
}

// Stats returns the publisher's counters.
func (p *StatusPublisher) Stats() StatusStats {
	return StatusStats{Published: p.published.Load(), Failed: p.dropped.Load() + p.q.statusFailed.Load()}
}

// Latest returns the latest stored status of every job still in the status
// bucket.
func (q *Queue) Latest(ctx context.Context) ([]status.Event, error) {
	evs, _, err := q.latest(ctx)
	return evs, err
}

// latest reads the status bucket and returns each job's event and the
// highest revision seen.
func (q *Queue) latest(ctx context.Context) ([]status.Event, uint64, error) {
	w, err := q.status.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, 0, fmt.Errorf("read job states from bucket %s: %w", q.n.statusKV, err)
	}
	defer w.Stop()
	var out []status.Event
	var maxRev uint64
	for {
		select {
		case <-ctx.Done():
			return out, maxRev, fmt.Errorf("read job states from bucket %s: %w", q.n.statusKV, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return out, maxRev, fmt.Errorf("read job states from bucket %s: watcher stopped", q.n.statusKV)
			}
			if e == nil { // every current value has been delivered
				return out, maxRev, nil
			}
			var ev status.Event
			if err := json.Unmarshal(e.Value(), &ev); err != nil {
				q.cfg.Logger.Warn("skipping an undecodable job state", "key", e.Key(), "error", err)
				continue
			}
			out = append(out, ev)
			maxRev = max(maxRev, e.Revision())
		}
	}
}

// DefaultFeedBuffer is how many status events Feed buffers between the
// engine and the publisher it drives. Beyond it the NATS client drops
// events (logged with their number); the bucket still holds
// each job's latest state.
const DefaultFeedBuffer = 4096

// Feed drives pub, typically a host/statushub Hub, from the status of
// every job in the cluster: first the latest state of each job in the
// status bucket, then every event as it is published on the status
// subjects, until ctx is done or the queue is closed. So the hub of any
// host serves live events for every job, and a page that (re)connects to
// it first gets the current states (the hub's snapshot).
//
// An event that is older than the state already read from the bucket is
// skipped, so a job never appears to go back. Feed returns an error
// wrapping ctx.Err() or ErrClosed.
func (q *Queue) Feed(ctx context.Context, pub status.Publisher) error {
	if err := q.enter(); err != nil {
		return fmt.Errorf("status feed: %w", err)
	}
	defer q.wg.Done()

	ch := make(chan *nats.Msg, DefaultFeedBuffer)
	sub, err := q.nc.ChanSubscribe(q.n.stat+".>", ch)
	if err != nil {
		return fmt.Errorf("status feed: subscribe %s.>: %w", q.n.stat, err)
	}
	defer sub.Unsubscribe()

	snap, snapRev, err := q.latest(ctx)
	if err != nil {
		return fmt.Errorf("status feed: %w", err)
	}
	for _, ev := range snap {
		pub.Publish(ev)
	}
	var dropped int
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("status feed: %w", ctx.Err())
		case <-q.closing:
			return fmt.Errorf("status feed: %w", ErrClosed)
		case m := <-ch:
			if seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64); err == nil && seq <= snapRev {
				continue // already in the snapshot, or older than it
			}
			var ev status.Event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				q.cfg.Logger.Warn("skipping an undecodable status event", "subject", m.Subject, "error", err)
				continue
			}
			if ev.JobID == "" {
				ev.JobID, _ = untoken(strings.TrimPrefix(m.Subject, q.n.stat+"."))
			}
			pub.Publish(ev)
			if d, err := sub.Dropped(); err == nil && d > dropped {
				q.cfg.Logger.Warn("status feed fell behind; the engine dropped events (each job's latest state is still in the bucket)", "dropped", d-dropped)
				dropped = d
			}
		}
	}
}
