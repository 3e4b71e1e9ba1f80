package queue

import (
	"context"
	"fmt"

	"github.com/isolated-workers/isolated-workers-go/host/statushub"
)

// Counts is a glance at the queue, for a status page or a metric.
type Counts struct {
	// Depth is the number of jobs waiting: stored, not yet running
	// (including delayed jobs and jobs waiting for a retry).
	Depth int64
	// InFlight is the number of jobs delivered to a host and not yet
	// acknowledged, over every consumer.
	InFlight int64
	// DeadLetters is the number of entries in the dead-letter stream.
	DeadLetters int64
}

// Counts reads the queue's counts from the engine.
func (q *Queue) Counts(ctx context.Context) (Counts, error) {
	if q.isClosed() {
		return Counts{}, fmt.Errorf("queue counts: %w", ErrClosed)
	}
	var c Counts
	info, err := q.jobs.Info(ctx)
	if err != nil {
		return c, fmt.Errorf("queue counts: stream %s: %w", q.n.jobsStream, err)
	}
	lister := q.jobs.ListConsumers(ctx)
	for ci := range lister.Info() {
		c.InFlight += int64(ci.NumAckPending)
	}
	if err := lister.Err(); err != nil {
		return c, fmt.Errorf("queue counts: consumers of %s: %w", q.n.jobsStream, err)
	}
	c.Depth = max(int64(info.State.Msgs)-c.InFlight, 0)
	dead, err := q.dead.Info(ctx)
	if err != nil {
		return c, fmt.Errorf("queue counts: stream %s: %w", q.n.deadStream, err)
	}
	c.DeadLetters = int64(dead.State.Msgs)
	return c, nil
}

// Gauges returns Counts as status-page gauges ("queue depth", "in flight",
// "dead letters"); it is a statushub.GaugesFunc:
//
//	statushub.NewEndpoint(hub, statushub.EndpointConfig{Gauges: q.Gauges})
func (q *Queue) Gauges(ctx context.Context) ([]statushub.Gauge, error) {
	c, err := q.Counts(ctx)
	if err != nil {
		return nil, err
	}
	return []statushub.Gauge{
		{Name: "queue depth", Value: c.Depth},
		{Name: "in flight", Value: c.InFlight},
		{Name: "dead letters", Value: c.DeadLetters},
	}, nil
}

var _ statushub.GaugesFunc = (*Queue)(nil).Gauges
