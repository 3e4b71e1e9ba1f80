package statushub

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

func TestPendingQueue(t *testing.T) {
	type op struct {
		put     *status.Event // set for a put
		pop     bool
		compact bool
	}
	put := func(e status.Event) op { return op{put: &e} }
	pop := op{pop: true}
	compact := op{compact: true}

	tests := []struct {
		name        string
		ops         []op
		wantPopped  []status.Event
		wantRemoved int
		wantLeft    []status.Event
	}{
		{
			name:     "fifo without coalescing",
			ops:      []op{put(ev("a", status.Pending, 0)), put(ev("a", status.Processing, 1)), put(ev("b", status.Pending, 0))},
			wantLeft: []status.Event{ev("a", status.Pending, 0), ev("a", status.Processing, 1), ev("b", status.Pending, 0)},
		},
		{
			name: "compact keeps latest per job at first position",
			ops: []op{
				put(ev("a", status.Pending, 0)), put(ev("b", status.Pending, 0)), put(ev("a", status.Processing, 1)),
				compact,
			},
			wantRemoved: 1,
			wantLeft:    []status.Event{ev("a", status.Processing, 1), ev("b", status.Pending, 0)},
		},
		{
			name: "puts while coalescing replace in place",
			ops: []op{
				put(ev("a", status.Pending, 0)), compact,
				put(ev("b", status.Pending, 0)), put(ev("a", status.Processing, 1)), put(ev("a", status.Completed, 1)),
			},
			wantRemoved: 2,
			wantLeft:    []status.Event{ev("a", status.Completed, 1), ev("b", status.Pending, 0)},
		},
		{
			name: "pop then put while coalescing appends",
			ops: []op{
				put(ev("a", status.Pending, 0)), put(ev("b", status.Pending, 0)), compact,
				pop, put(ev("a", status.Processing, 1)), put(ev("b", status.Processing, 1)), put(ev("a", status.Completed, 1)),
			},
			wantPopped:  []status.Event{ev("a", status.Pending, 0)},
			wantRemoved: 2,
			wantLeft:    []status.Event{ev("b", status.Processing, 1), ev("a", status.Completed, 1)},
		},
		{
			name: "terminal is not replaced by a later non-terminal",
			ops: []op{
				put(ev("a", status.Pending, 0)), compact,
				put(ev("a", status.Completed, 1)), put(ev("a", status.Processing, 2)), put(ev("b", status.Pending, 0)), put(ev("a", status.Retrying, 2)),
			},
			wantRemoved: 2,
			wantLeft:    []status.Event{ev("a", status.Completed, 1), ev("a", status.Retrying, 2), ev("b", status.Pending, 0)},
		},
		{
			name: "compact keeps a terminal ahead of its job's later events",
			ops: []op{
				put(ev("a", status.Failed, 1)), put(ev("b", status.Pending, 0)), put(ev("a", status.Processing, 2)),
				put(ev("b", status.Processing, 1)), put(ev("a", status.Retrying, 2)),
				compact,
				put(ev("a", status.Completed, 2)), put(ev("a", status.Processing, 3)),
			},
			wantRemoved: 3,
			wantLeft:    []status.Event{ev("a", status.Failed, 1), ev("b", status.Processing, 1), ev("a", status.Completed, 2), ev("a", status.Processing, 3)},
		},
		{
			name: "a later terminal replaces a terminal",
			ops: []op{
				put(ev("a", status.Failed, 1)), compact, put(ev("a", status.Completed, 2)),
			},
			wantRemoved: 1,
			wantLeft:    []status.Event{ev("a", status.Completed, 2)},
		},
		{
			name: "pop of a job's earlier slot keeps its later slot coalescing",
			ops: []op{
				put(ev("a", status.Completed, 1)), put(ev("a", status.Processing, 2)), compact,
				pop, put(ev("a", status.Completed, 2)),
			},
			wantPopped:  []status.Event{ev("a", status.Completed, 1)},
			wantRemoved: 1,
			wantLeft:    []status.Event{ev("a", status.Completed, 2)},
		},
		{
			name: "empty queue stops coalescing",
			ops: []op{
				put(ev("a", status.Pending, 0)), compact, pop,
				put(ev("a", status.Processing, 1)), put(ev("a", status.Completed, 1)),
			},
			wantPopped: []status.Event{ev("a", status.Pending, 0)},
			wantLeft:   []status.Event{ev("a", status.Processing, 1), ev("a", status.Completed, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newPendingQueue()
			var popped []status.Event
			removed := 0
			for _, o := range tt.ops {
				switch {
				case o.put != nil:
					if q.put(*o.put) {
						removed++
					}
				case o.pop:
					e, ok := q.pop()
					if !ok {
						t.Fatalf("pop() on empty queue")
					}
					popped = append(popped, e)
				case o.compact:
					removed += q.compact()
				}
			}
			if diff := cmp.Diff(tt.wantPopped, popped); diff != "" {
				t.Errorf("popped (-want +got):\n%s", diff)
			}
			if removed != tt.wantRemoved {
				t.Errorf("events coalesced away = %d, want %d", removed, tt.wantRemoved)
			}
			if q.len() != len(tt.wantLeft) {
				t.Errorf("len() = %d, want %d", q.len(), len(tt.wantLeft))
			}
			var left []status.Event
			for {
				e, ok := q.pop()
				if !ok {
					break
				}
				left = append(left, e)
			}
			if diff := cmp.Diff(tt.wantLeft, left); diff != "" {
				t.Errorf("left in queue (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenBucket(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at       time.Duration // since t0
		wantOK   bool
		wantWait time.Duration
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{
			name: "burst then wait for refill", rate: 10, burst: 2,
			steps: []step{
				{0, true, 0}, {0, true, 0}, {0, false, 100 * time.Millisecond},
				{50 * time.Millisecond, false, 50 * time.Millisecond},
				{100 * time.Millisecond, true, 0},
				{100 * time.Millisecond, false, 100 * time.Millisecond},
			},
		},
		{
			name: "refill capped at burst", rate: 10, burst: 2,
			steps: []step{
				{time.Hour, true, 0}, {time.Hour, true, 0}, {time.Hour, false, 100 * time.Millisecond},
			},
		},
		{
			name: "time going backwards refills nothing", rate: 1, burst: 1,
			steps: []step{{time.Second, true, 0}, {0, false, time.Second}},
		},
		{
			name: "infinite rate never waits", rate: math.Inf(1), burst: 1,
			steps: []step{{0, true, 0}, {0, true, 0}, {0, true, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTokenBucket(tt.rate, tt.burst, t0)
			for i, s := range tt.steps {
				ok, wait := b.take(t0.Add(s.at))
				if ok != s.wantOK || wait != s.wantWait {
					t.Errorf("step %d: take(t0+%v) = %v, %v, want %v, %v", i, s.at, ok, wait, s.wantOK, s.wantWait)
				}
			}
		})
	}
}
