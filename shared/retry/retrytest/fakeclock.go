package retrytest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

// FakeClock is a retry.Clock that only moves when told to. The zero value is
// not usable; call NewFakeClock.
type FakeClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []sleeper
	sleeps   []time.Duration
	changed  chan struct{} // closed and replaced when a sleeper is added
}

type sleeper struct {
	at time.Time
	ch chan time.Time
}

var _ retry.Clock = (*FakeClock)(nil)

// Epoch is the time a FakeClock starts at when NewFakeClock is given the
// zero time.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// NewFakeClock returns a clock reading start, or Epoch if start is zero.
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = Epoch
	}
	return &FakeClock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After records d and returns a channel that receives the clock's time once
// Advance has moved the clock d past now. A d of zero or less fires at once
// and does not count as a sleeper.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.sleepers = append(c.sleepers, sleeper{at: c.now.Add(d), ch: ch})
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

// Advance moves the clock forward by d and releases every sleeper whose time
// has come, earliest first.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	slices.SortStableFunc(c.sleepers, func(a, b sleeper) int { return a.at.Compare(b.at) })
	n := 0
	for _, s := range c.sleepers {
		if s.at.After(c.now) {
			break
		}
		s.ch <- c.now
		n++
	}
	c.sleepers = slices.Delete(c.sleepers, 0, n)
}

// Sleepers returns how many sleepers are waiting for the clock to advance.
func (c *FakeClock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sleepers)
}

// Sleeps returns every duration passed to After, in order, including those
// of zero or less.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// BlockUntil waits until at least n sleepers are waiting. It returns an error
// wrapping ctx.Err() if ctx ends first.
func (c *FakeClock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		have, changed := len(c.sleepers), c.changed
		c.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("retrytest: waiting for %d sleepers, have %d: %w", n, have, ctx.Err())
		}
	}
}

// Next waits for a sleeper, advances the clock to the earliest sleeper's
// time, releasing it, and returns how far the clock moved.
func (c *FakeClock) Next(ctx context.Context) (time.Duration, error) {
	if err := c.BlockUntil(ctx, 1); err != nil {
		return 0, err
	}
	c.mu.Lock()
	earliest := c.sleepers[0].at
	for _, s := range c.sleepers[1:] {
		if s.at.Before(earliest) {
			earliest = s.at
		}
	}
	d := earliest.Sub(c.now)
	c.mu.Unlock()
	c.Advance(d)
	return d, nil
}
