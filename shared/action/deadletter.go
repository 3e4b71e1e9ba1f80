package action

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

// DeadLetterConfig configures a DeadLetter sink. A zero field means its
// default.
type DeadLetterConfig struct {
	// MaxEntries bounds the sink; adding to a full sink drops the oldest
	// entry (counted in Stats.Evicted). 0 means
	// DefaultDeadLetterMaxEntries (1000).
	MaxEntries int

	// Retention is how long an entry is kept after it was (last) added;
	// older entries are dropped (counted in Stats.Expired). 0 means
	// DefaultDeadLetterRetention (7 days).
	Retention time.Duration

	// OnDeadLetter, if set, is called with each entry after it is added, on
	// the goroutine that added it, with no lock held.
	OnDeadLetter func(Entry)

	// Clock tells the time. nil means retry.SystemClock.
	Clock retry.Clock
}

// Validate reports the first invalid field.
func (c DeadLetterConfig) Validate() error {
	switch {
	case c.MaxEntries < 0:
		return fmt.Errorf("dead-letter sink: MaxEntries must not be negative, got %d", c.MaxEntries)
	case c.Retention < 0:
		return fmt.Errorf("dead-letter sink: Retention must not be negative, got %v", c.Retention)
	}
	return nil
}

// Entry is a job that failed for good.
type Entry struct {
	ID       string // assigned by the sink: "dl-1", "dl-2", ...
	JobID    string
	WorkerID string
	Action   string // the action that was running when the job failed
	Headers  map[string]string
	Input    any       // the input of the failed step, for Redrive; treat as read-only
	Err      error     // the final error
	Errors   []error   // every attempt's error, oldest first (from *retry.Error, else just Err)
	Attempts int       // len(Errors) before any redrive
	Redrives int       // failed re-drives so far
	Time     time.Time // when the entry was added, or last failed a redrive
}

// DeadLetterStats counts what a sink has seen.
type DeadLetterStats struct {
	Entries  int    // entries held now
	Added    uint64 // entries ever added
	Evicted  uint64 // dropped because the sink was full
	Expired  uint64 // dropped because they outlived Retention
	Redriven uint64 // removed by a successful Redrive
}

// DeadLetter holds jobs that failed for good, so that an operator can
// inspect them and re-drive them. It is safe for concurrent use.
type DeadLetter struct {
	cfg DeadLetterConfig

	mu      sync.Mutex
	entries []*Entry // oldest first
	seq     uint64
	stats   DeadLetterStats
	active  map[string]bool // IDs being re-driven
}

// NewDeadLetter returns an empty sink.
func NewDeadLetter(cfg DeadLetterConfig) (*DeadLetter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultDeadLetterMaxEntries
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultDeadLetterRetention
	}
	if cfg.Clock == nil {
		cfg.Clock = retry.SystemClock{}
	}
	return &DeadLetter{cfg: cfg, active: make(map[string]bool)}, nil
}

// DeadLetterSink is where [WithDeadLetter] records jobs that failed for
// good. [*DeadLetter] keeps them in memory; package queue keeps them in a
// durable stream. Record must be safe for concurrent use.
type DeadLetterSink interface {
	// Record stores e and returns the stored entry, with the ID and Time
	// the sink assigned and Errors and Attempts filled in from e.Err when
	// e.Errors is empty. An error means e was not stored.
	Record(ctx context.Context, e Entry) (Entry, error)
}

var _ DeadLetterSink = (*DeadLetter)(nil)

// WithDeadLetter adds every failure of the wrapped step to d, with the
// step's input, so it can be re-driven. Place it outermost (see Wrap), or as
// a pipeline middleware, so that only final failures reach it.
//
// Not recorded: failures while ctx is cancelled (the caller gave up; the job
// did not fail), and failures inside (*DeadLetter).Redrive, which records
// them itself. If d fails to record a failure, the step's error is returned
// with the recording error joined to it (errors.Is and errors.As see both),
// so a lost dead letter is never silent.
func WithDeadLetter(d DeadLetterSink) StepMiddleware {
	mem, _ := d.(*DeadLetter)
	return func(next Step) Step {
		return func(ctx context.Context, ac *JobInfo, in any) (any, error) {
			out, err := next(ctx, ac, in)
			if err == nil || errors.Is(ctx.Err(), context.Canceled) || (mem != nil && redriving(ctx, mem)) {
				return out, err
			}
			_, rerr := d.Record(context.WithoutCancel(ctx), Entry{
				JobID:    ac.JobID,
				WorkerID: ac.WorkerID,
				Action:   ac.Action,
				Headers:  maps.Clone(ac.Headers),
				Input:    in,
				Err:      err,
			})
			if rerr != nil {
				return out, fmt.Errorf("%w (recording it as a dead letter failed: %w)", err, rerr)
			}
			return out, err
		}
	}
}

// Record adds e like [DeadLetter.Add]; it never fails.
func (d *DeadLetter) Record(_ context.Context, e Entry) (Entry, error) {
	return d.Add(e), nil
}

// AttemptErrors returns every attempt's error held in err: the errors of a
// *retry.Error it wraps, else err alone. Sinks use it to fill
// Entry.Errors.
func AttemptErrors(err error) []error { return attemptErrors(err) }

// Add adds e to the sink and returns the stored entry. Add sets ID and
// Time, and fills Errors and Attempts from e.Err when Errors is empty: all
// attempts' errors if e.Err wraps a *retry.Error, else e.Err alone.
func (d *DeadLetter) Add(e Entry) Entry {
	if len(e.Errors) == 0 && e.Err != nil {
		e.Errors = attemptErrors(e.Err)
	}
	if e.Attempts == 0 {
		e.Attempts = len(e.Errors)
	}
	d.mu.Lock()
	d.prune()
	d.seq++
	e.ID = "dl-" + strconv.FormatUint(d.seq, 10)
	e.Time = d.cfg.Clock.Now()
	d.insert(&e)
	d.stats.Added++
	stored := e.clone()
	d.mu.Unlock()
	if d.cfg.OnDeadLetter != nil {
		d.cfg.OnDeadLetter(stored)
	}
	return stored
}

// attemptErrors returns every attempt's error held in err.
func attemptErrors(err error) []error {
	var re *retry.Error
	if errors.As(err, &re) && len(re.Errors()) > 0 {
		return slices.Clone(re.Errors())
	}
	return []error{err}
}

// insert appends e as the newest entry, evicting the oldest if full.
// d.mu must be held.
func (d *DeadLetter) insert(e *Entry) {
	if len(d.entries) >= d.cfg.MaxEntries {
		n := len(d.entries) - d.cfg.MaxEntries + 1
		d.entries = slices.Delete(d.entries, 0, n)
		d.stats.Evicted += uint64(n)
	}
	d.entries = append(d.entries, e)
}

// prune drops entries older than Retention. d.mu must be held.
func (d *DeadLetter) prune() {
	cutoff := d.cfg.Clock.Now().Add(-d.cfg.Retention)
	n := 0
	for n < len(d.entries) && !d.entries[n].Time.After(cutoff) {
		n++
	}
	if n > 0 {
		d.entries = slices.Delete(d.entries, 0, n)
		d.stats.Expired += uint64(n)
	}
}

// List returns the entries, oldest first.
func (d *DeadLetter) List() []Entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune()
	out := make([]Entry, len(d.entries))
	for i, e := range d.entries {
		out[i] = e.clone()
	}
	return out
}

// Get returns the entry with the given ID.
func (d *DeadLetter) Get(id string) (Entry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune()
	if i := d.index(id); i >= 0 {
		return d.entries[i].clone(), true
	}
	return Entry{}, false
}

// Remove deletes the entry with the given ID and reports whether it was
// there.
func (d *DeadLetter) Remove(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.index(id)
	if i < 0 {
		return false
	}
	d.entries = slices.Delete(d.entries, i, i+1)
	return true
}

// Len returns the number of entries.
func (d *DeadLetter) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune()
	return len(d.entries)
}

// Stats returns the sink's counters.
func (d *DeadLetter) Stats() DeadLetterStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune()
	s := d.stats
	s.Entries = len(d.entries)
	return s
}

// Redrive runs the job of entry id again by calling run with the entry.
// If run succeeds, the entry is removed. If it fails, the entry stays with
// Err set to the new error, the new attempts' errors appended to Errors,
// Redrives incremented and Time renewed (it moves to the newest position),
// OnDeadLetter is called again, and Redrive returns the error.
//
// run typically calls the pipeline again with e.Input. Failures inside run
// are not recorded a second time by a WithDeadLetter for this sink.
//
// Redrive returns an error wrapping ErrNotFound for an unknown id and
// ErrRedriveInProgress while another Redrive of the same id is running. If
// the entry is removed or dropped while run runs, a failure is returned but
// not recorded.
func (d *DeadLetter) Redrive(ctx context.Context, id string, run func(ctx context.Context, e Entry) error) error {
	d.mu.Lock()
	d.prune()
	i := d.index(id)
	switch {
	case i < 0:
		d.mu.Unlock()
		return fmt.Errorf("redrive %q: %w", id, ErrNotFound)
	case d.active[id]:
		d.mu.Unlock()
		return fmt.Errorf("redrive %q: %w", id, ErrRedriveInProgress)
	}
	d.active[id] = true
	e := d.entries[i].clone()
	d.mu.Unlock()

	err := run(context.WithValue(ctx, redriveKey{}, d), e)

	d.mu.Lock()
	delete(d.active, id)
	i = d.index(id)
	if err == nil {
		if i >= 0 {
			d.entries = slices.Delete(d.entries, i, i+1)
		}
		d.stats.Redriven++
		d.mu.Unlock()
		return nil
	}
	if i < 0 {
		d.mu.Unlock()
		return fmt.Errorf("redrive %q: %w", id, err)
	}
	cur := d.entries[i]
	d.entries = slices.Delete(d.entries, i, i+1)
	cur.Err = err
	cur.Errors = append(cur.Errors, attemptErrors(err)...)
	cur.Redrives++
	cur.Time = d.cfg.Clock.Now()
	d.insert(cur)
	stored := cur.clone()
	d.mu.Unlock()
	if d.cfg.OnDeadLetter != nil {
		d.cfg.OnDeadLetter(stored)
	}
	return fmt.Errorf("redrive %q: %w", id, err)
}

// index returns the position of entry id, or -1. d.mu must be held.
func (d *DeadLetter) index(id string) int {
	return slices.IndexFunc(d.entries, func(e *Entry) bool { return e.ID == id })
}

// clone copies e with its own Errors and Headers.
func (e *Entry) clone() Entry {
	c := *e
	c.Errors = slices.Clone(e.Errors)
	c.Headers = maps.Clone(e.Headers)
	return c
}

// redriveKey marks a context as running inside DeadLetter.Redrive; the
// value is the sink.
type redriveKey struct{}

func redriving(ctx context.Context, d *DeadLetter) bool {
	v, _ := ctx.Value(redriveKey{}).(*DeadLetter)
	return v == d
}
