package statushub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// newTestHub returns a hub closed at the end of the test.
func newTestHub(t *testing.T, cfg HubConfig) *Hub {
	t.Helper()
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatalf("NewHub(%+v) = %v", cfg, err)
	}
	t.Cleanup(h.Close)
	return h
}

func ev(job string, st status.Status, attempt int) status.Event {
	return status.Event{
		JobID:    job,
		WorkerID: "w1",
		Status:   st,
		Attempt:  attempt,
		Time:     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// drain reads every event left on a closed subscription.
func drain(s *Subscription) []status.Event {
	var out []status.Event
	for e := range s.C() {
		out = append(out, e)
	}
	return out
}

func TestHubConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     HubConfig
		wantErr bool
	}{
		{name: "zero value", cfg: HubConfig{}},
		{name: "explicit", cfg: HubConfig{SubscriberBuffer: 1, MaxJobs: 1}},
		{name: "negative buffer", cfg: HubConfig{SubscriberBuffer: -1}, wantErr: true},
		{name: "negative max jobs", cfg: HubConfig{MaxJobs: -5}, wantErr: true},
		{name: "negative stall timeout", cfg: HubConfig{StallTimeout: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want it to wrap ErrInvalidConfig", err)
			}
			_, nerr := NewHub(tt.cfg)
			if (nerr != nil) != tt.wantErr {
				t.Errorf("NewHub() error = %v, want error: %v", nerr, tt.wantErr)
			}
		})
	}
}

func TestHubFanOutInOrder(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	ctx := context.Background()
	all, err := h.Subscribe(ctx, nil)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	onlyB, err := h.Subscribe(ctx, func(e status.Event) bool { return e.JobID == "b" })
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}

	events := []status.Event{
		ev("a", status.Pending, 0), ev("b", status.Pending, 0),
		ev("a", status.Processing, 1), ev("b", status.Processing, 1),
		ev("a", status.Completed, 1), ev("b", status.Failed, 1),
	}
	for _, e := range events {
		h.Publish(e)
	}
	all.Close()
	onlyB.Close()

	if diff := cmp.Diff(events, drain(all)); diff != "" {
		t.Errorf("unfiltered subscriber got (-want +got):\n%s", diff)
	}
	wantB := []status.Event{events[1], events[3], events[5]}
	if diff := cmp.Diff(wantB, drain(onlyB)); diff != "" {
		t.Errorf("filtered subscriber got (-want +got):\n%s", diff)
	}
	if err := all.Err(); err != nil {
		t.Errorf("Err() after own Close = %v, want nil", err)
	}
	want := HubStats{Published: 6, Delivered: 9, Dropped: 0, Subscribers: 0}
	if diff := cmp.Diff(want, h.Stats()); diff != "" {
		t.Errorf("Stats() (-want +got):\n%s", diff)
	}
}

// TestHubDropsSlowSubscriber: a subscriber that stops reading is dropped once
// an event has waited StallTimeout for room in its full channel, counted and
// reported; a subscriber that reads all the time receives every event, in
// order, however far the publisher runs ahead. Publish never waits.
func TestHubDropsSlowSubscriber(t *testing.T) {
	type drop struct{ id, reason string }
	drops := make(chan drop, 2)
	h := newTestHub(t, HubConfig{
		SubscriberBuffer: 4,
		StallTimeout:     50 * time.Millisecond,
		OnDrop:           func(id, reason string) { drops <- drop{id, reason} },
	})
	ctx := context.Background()
	slow, err := h.Subscribe(ctx, nil)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	// fast is read all the time and must receive everything.
	fast, err := h.Subscribe(ctx, nil)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	const n = 1000
	got := make(chan []status.Event)
	go func() {
		var evs []status.Event
		for e := range fast.C() {
			if evs = append(evs, e); len(evs) == n {
				break
			}
		}
		got <- evs
	}()

	// Each Publish returns: nobody reads slow, and it is never waited for.
	for i := range n {
		h.Publish(ev(fmt.Sprintf("job-%d", i), status.Completed, 1))
	}

	var d drop
	select {
	case d = <-drops:
	case <-time.After(guard):
		t.Fatalf("slow subscriber not dropped; Stats() = %+v", h.Stats())
	}
	if d.id != slow.ID() || !strings.Contains(d.reason, "StallTimeout") {
		t.Errorf("OnDrop(%q, %q), want (%q, a reason naming StallTimeout)", d.id, d.reason, slow.ID())
	}
	if err := slow.Err(); !errors.Is(err, ErrSlowSubscriber) {
		t.Errorf("slow.Err() = %v, want ErrSlowSubscriber", err)
	}
	if buffered := drain(slow); len(buffered) != 4 {
		t.Errorf("slow subscriber kept %d events in its channel, want 4 (its buffer)", len(buffered))
	}

	fastGot := <-got
	if len(fastGot) != n {
		t.Fatalf("fast subscriber received %d events, want %d; Err() = %v", len(fastGot), n, fast.Err())
	}
	for i, e := range fastGot {
		if want := fmt.Sprintf("job-%d", i); e.JobID != want {
			t.Fatalf("fast subscriber event %d is for %q, want %q", i, e.JobID, want)
		}
	}
	if err := fast.Err(); err != nil {
		t.Errorf("fast.Err() = %v, want nil (still open)", err)
	}
	fast.Close()

	st := h.Stats()
	if st.Published != n || st.Dropped != 1 {
		t.Errorf("Stats() = %+v, want Published %d, Dropped 1", st, n)
	}
	select {
	case d := <-drops:
		t.Errorf("second drop OnDrop(%q, %q), want only the slow subscriber", d.id, d.reason)
	default:
	}
}

// TestHubDropsSubscriberWithTooManyJobsWaiting: a subscription's backlog
// coalesces to one event per job, so it is bounded by MaxJobs: one more job
// waiting drops it at once.
func TestHubDropsSubscriberWithTooManyJobsWaiting(t *testing.T) {
	reasons := make(chan string, 1)
	h := newTestHub(t, HubConfig{
		SubscriberBuffer: 2,
		MaxJobs:          5,
		OnDrop:           func(_, reason string) { reasons <- reason },
	})
	s, err := h.Subscribe(context.Background(), nil)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	// Nobody reads: 2 events fill the channel, the subscription's goroutine
	// may hold one more, and 6 distinct jobs in the backlog exceed MaxJobs.
	for i := range 2 + 7 {
		h.Publish(ev(fmt.Sprintf("job-%d", i), status.Pending, 0))
	}
	select {
	case r := <-reasons:
		if !strings.Contains(r, "MaxJobs") {
			t.Errorf("OnDrop reason = %q, want it to name MaxJobs", r)
		}
	default:
		t.Fatalf("subscriber with more than MaxJobs jobs waiting not dropped at once; Stats() = %+v", h.Stats())
	}
	if err := s.Err(); !errors.Is(err, ErrSlowSubscriber) {
		t.Errorf("Err() = %v, want ErrSlowSubscriber", err)
	}
	drain(s)
}

func TestSubscriptionEnds(t *testing.T) {
	tests := []struct {
		name    string
		end     func(h *Hub, s *Subscription, cancel context.CancelFunc)
		wantErr error
	}{
		{name: "own Close", end: func(_ *Hub, s *Subscription, _ context.CancelFunc) { s.Close() }, wantErr: nil},
		{name: "context cancelled", end: func(_ *Hub, _ *Subscription, cancel context.CancelFunc) { cancel() }, wantErr: context.Canceled},
		{name: "hub closed", end: func(h *Hub, _ *Subscription, _ context.CancelFunc) { h.Close() }, wantErr: ErrHubClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, HubConfig{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := h.Subscribe(ctx, nil)
			if err != nil {
				t.Fatalf("Subscribe() = %v", err)
			}
			h.Publish(ev("a", status.Pending, 0))
			tt.end(h, s, cancel)

			// The channel closes after the buffered event.
			if got := drain(s); len(got) != 1 {
				t.Errorf("drained %d events, want 1", len(got))
			}
			if err := s.Err(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Err() = %v, want %v", err, tt.wantErr)
			}
			s.Close() // idempotent
			if n := h.Stats().Subscribers; n != 0 {
				t.Errorf("Stats().Subscribers = %d, want 0", n)
			}
		})
	}
}

func TestHubClose(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	var subs []*Subscription
	for range 3 {
		s, err := h.Subscribe(context.Background(), nil)
		if err != nil {
			t.Fatalf("Subscribe() = %v", err)
		}
		subs = append(subs, s)
	}
	h.Close()
	h.Close() // idempotent

	for i, s := range subs {
		if _, ok := <-s.C(); ok {
			t.Errorf("subscription %d: channel still open after Hub.Close", i)
		}
		if err := s.Err(); !errors.Is(err, ErrHubClosed) {
			t.Errorf("subscription %d: Err() = %v, want ErrHubClosed", i, err)
		}
	}
	if _, err := h.Subscribe(context.Background(), nil); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Subscribe() after Close = %v, want ErrHubClosed", err)
	}
	h.Publish(ev("a", status.Pending, 0)) // must not panic or block
	if got := h.Stats().Published; got != 0 {
		t.Errorf("Stats().Published after Publish on a closed hub = %d, want 0", got)
	}
}

func TestSubscribeCancelledContext(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Subscribe(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe(cancelled ctx) = %v, want context.Canceled", err)
	}
	if n := h.Stats().Subscribers; n != 0 {
		t.Errorf("Stats().Subscribers = %d, want 0", n)
	}
}

func TestSnapshot(t *testing.T) {
	tests := []struct {
		name    string
		maxJobs int
		publish []status.Event
		want    []status.Event
	}{
		{
			name:    "latest per job, least recently updated first",
			publish: []status.Event{ev("a", status.Pending, 0), ev("b", status.Pending, 0), ev("a", status.Processing, 1), ev("b", status.Completed, 1)},
			want:    []status.Event{ev("a", status.Processing, 1), ev("b", status.Completed, 1)},
		},
		{
			name:    "oldest job evicted",
			maxJobs: 2,
			publish: []status.Event{ev("a", status.Pending, 0), ev("b", status.Pending, 0), ev("c", status.Pending, 0)},
			want:    []status.Event{ev("b", status.Pending, 0), ev("c", status.Pending, 0)},
		},
		{
			name:    "update keeps a job from eviction",
			maxJobs: 2,
			publish: []status.Event{ev("a", status.Pending, 0), ev("b", status.Pending, 0), ev("a", status.Processing, 1), ev("c", status.Pending, 0)},
			want:    []status.Event{ev("a", status.Processing, 1), ev("c", status.Pending, 0)},
		},
		{name: "empty", want: []status.Event{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, HubConfig{MaxJobs: tt.maxJobs})
			for _, e := range tt.publish {
				h.Publish(e)
			}
			if diff := cmp.Diff(tt.want, h.Snapshot()); diff != "" {
				t.Errorf("Snapshot() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHubConcurrent exercises every method at once under -race.
func TestHubConcurrent(t *testing.T) {
	h := newTestHub(t, HubConfig{SubscriberBuffer: 8, MaxJobs: 16})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 500 {
				h.Publish(ev(fmt.Sprintf("p%d-%d", p, i%32), status.Processing, i))
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				s, err := h.Subscribe(ctx, nil)
				if err != nil {
					cancel()
					return
				}
				// Read what is there without waiting: publishers may be done.
				for range 3 {
					select {
					case <-s.C():
					default:
					}
				}
				_ = s.Err()
				_ = h.Snapshot()
				_ = h.Stats()
				cancel()
				s.Close()
			}
		})
	}
	wg.Wait()
	h.Close()
	if n := len(h.Snapshot()); n > 16 {
		t.Errorf("len(Snapshot()) = %d, want <= 16 (MaxJobs)", n)
	}
}

// TestHubBurstReachesReadingSubscriber publishes 10,000 events in a tight
// loop (500 jobs, 20 states each, interleaved) to a subscription that is
// read all the time: it is not dropped, sees each job's events in order,
// and ends with every job's final state.
func TestHubBurstReachesReadingSubscriber(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	s, err := h.Subscribe(context.Background(), nil)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	const jobs, states = 500, 20
	type result struct {
		last map[string]status.Event
		err  error
	}
	received := make(chan result, 1)
	go func() {
		r := result{last: make(map[string]status.Event)}
		final := 0
		for e := range s.C() {
			if prev, ok := r.last[e.JobID]; ok && e.Attempt < prev.Attempt {
				r.err = fmt.Errorf("job %s: step %d arrived after step %d: per-job order broken", e.JobID, e.Attempt, prev.Attempt)
				break
			}
			r.last[e.JobID] = e
			if e.Status == status.Completed || e.Status == status.Failed {
				if final++; final == jobs {
					break
				}
			}
		}
		if final < jobs && r.err == nil {
			r.err = fmt.Errorf("subscription ended with %d of %d jobs final: Err() = %v", final, jobs, s.Err())
		}
		received <- r
	}()

	want := make(map[string]status.Event, jobs)
	for i := range states {
		for j := range jobs {
			e := ev(fmt.Sprintf("job-%03d", j), burstStatus(j, i, states), i)
			h.Publish(e)
			want[e.JobID] = e
		}
	}
	r := <-received
	if r.err != nil {
		t.Fatalf("reading subscriber: %v (hub stats %+v)", r.err, h.Stats())
	}
	if diff := cmp.Diff(want, r.last); diff != "" {
		t.Errorf("each job's last event at the subscriber (-want +got):\n%s", diff)
	}
	if st := h.Stats(); st.Dropped != 0 || st.Subscribers != 1 {
		t.Errorf("Stats() = %+v, want Dropped 0, Subscribers 1", st)
	}
	s.Close()
}

// TestOnDropMayCloseTheSubscription: OnDrop for a stalled subscription runs on
// the subscription's own goroutine, and may still call its Close.
func TestOnDropMayCloseTheSubscription(t *testing.T) {
	var slow *Subscription
	subscribed := make(chan struct{})
	closed := make(chan struct{})
	h := newTestHub(t, HubConfig{
		SubscriberBuffer: 1,
		StallTimeout:     10 * time.Millisecond,
		OnDrop: func(string, string) {
			<-subscribed
			slow.Close()
			close(closed)
		},
	})
	var err error
	slow, err = h.Subscribe(context.Background(), nil)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	close(subscribed)
	for i := range 3 {
		h.Publish(ev("a", status.Processing, i))
	}
	select {
	case <-closed:
	case <-time.After(guard):
		t.Fatal("OnDrop calling Subscription.Close did not return")
	}
	if err := slow.Err(); !errors.Is(err, ErrSlowSubscriber) {
		t.Errorf("Err() = %v, want ErrSlowSubscriber", err)
	}
}
