package action

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

// BreakerState is the state of a CircuitBreaker.
type BreakerState int

// The states. A closed breaker lets calls through and counts consecutive
// failures; at FailureThreshold it opens. An open breaker rejects calls at
// once until OpenTimeout has passed, then becomes half-open. A half-open
// breaker lets HalfOpenMaxCalls trial calls through: if they all succeed it
// closes, and if one fails it opens again.
const (
	BreakerClosed BreakerState = iota
	BreakerOpen
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// BreakerConfig configures a CircuitBreaker. A zero field means its default.
type BreakerConfig struct {
	// Name names the breaker in errors, e.g. the dependency it guards.
	Name string

	// FailureThreshold is how many consecutive failures open the breaker.
	// 0 means DefaultFailureThreshold (5).
	FailureThreshold int

	// OpenTimeout is how long the breaker stays open. 0 means
	// DefaultOpenTimeout (30s).
	OpenTimeout time.Duration

	// HalfOpenMaxCalls is how many trial calls the half-open breaker lets
	// through; further calls are rejected until they finish. All must
	// succeed to close it. 0 means DefaultHalfOpenMaxCalls (1).
	HalfOpenMaxCalls int

	// IsFailure says which errors count as failures. nil means every error
	// except those of class faults.Permanent and faults.Business: bad input,
	// refused domain rules and cancelled calls say nothing about the
	// dependency's health. An error that is not a failure counts as a
	// success.
	IsFailure func(err error) bool

	// OnStateChange, if set, is called after each state change, on the
	// goroutine whose call caused it, with no breaker lock held; changes are
	// reported one at a time, in order. It must not call through the
	// breaker (State is fine).
	OnStateChange func(name string, from, to BreakerState)

	// Clock tells the time. nil means retry.SystemClock.
	Clock retry.Clock
}

// Validate reports the first invalid field.
func (c BreakerConfig) Validate() error {
	switch {
	case c.FailureThreshold < 0:
		return fmt.Errorf("circuit breaker %q: FailureThreshold must not be negative, got %d", c.Name, c.FailureThreshold)
	case c.OpenTimeout < 0:
		return fmt.Errorf("circuit breaker %q: OpenTimeout must not be negative, got %v", c.Name, c.OpenTimeout)
	case c.HalfOpenMaxCalls < 0:
		return fmt.Errorf("circuit breaker %q: HalfOpenMaxCalls must not be negative, got %d", c.Name, c.HalfOpenMaxCalls)
	}
	return nil
}

// OpenError is returned for a call the breaker rejected. Its class is
// faults.Transient and its retry-after hint the time left until the breaker
// lets a trial call through, so WithRetry outside the breaker waits that
// long (capped by the policy's MaxDelay). errors.Is(err, ErrCircuitOpen)
// holds.
type OpenError struct {
	Breaker   string        // BreakerConfig.Name
	State     BreakerState  // BreakerOpen, or BreakerHalfOpen when its trial calls are taken
	Remaining time.Duration // time until the breaker becomes half-open; 0 when half-open
}

var (
	_ faults.Classifier  = (*OpenError)(nil)
	_ faults.RetryHinter = (*OpenError)(nil)
)

// Error says which breaker rejected the call and when to try again.
func (e *OpenError) Error() string {
	if e.State == BreakerHalfOpen {
		return fmt.Sprintf("circuit breaker %q is half-open and its trial calls are in flight", e.Breaker)
	}
	return fmt.Sprintf("circuit breaker %q is open; retry in %v", e.Breaker, e.Remaining)
}

// Unwrap returns ErrCircuitOpen.
func (e *OpenError) Unwrap() error { return ErrCircuitOpen }

// FaultClass returns faults.Transient.
func (e *OpenError) FaultClass() faults.Class { return faults.Transient }

// RetryAfter returns Remaining.
func (e *OpenError) RetryAfter() time.Duration { return e.Remaining }

// CircuitBreaker stops calling a failing dependency for a while, so that it
// can recover and callers fail fast instead of waiting. It is safe for
// concurrent use; share one breaker among all calls to one dependency.
type CircuitBreaker struct {
	cfg BreakerConfig

	mu        sync.Mutex
	state     BreakerState
	gen       uint64 // incremented on every state change
	failures  int    // consecutive failures while closed
	openedAt  time.Time
	inFlight  int // trial calls running while half-open
	successes int // trial calls succeeded while half-open

	notifyMu sync.Mutex // orders OnStateChange calls
}

type transition struct{ from, to BreakerState }

// NewCircuitBreaker returns a closed breaker.
func NewCircuitBreaker(cfg BreakerConfig) (*CircuitBreaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FailureThreshold == 0 {
		cfg.FailureThreshold = DefaultFailureThreshold
	}
	if cfg.OpenTimeout == 0 {
		cfg.OpenTimeout = DefaultOpenTimeout
	}
	if cfg.HalfOpenMaxCalls == 0 {
		cfg.HalfOpenMaxCalls = DefaultHalfOpenMaxCalls
	}
	if cfg.IsFailure == nil {
		cfg.IsFailure = defaultIsFailure
	}
	if cfg.Clock == nil {
		cfg.Clock = retry.SystemClock{}
	}
	return &CircuitBreaker{cfg: cfg}, nil
}

func defaultIsFailure(err error) bool {
	if err == nil {
		return false
	}
	c := faults.ClassOf(err)
	return c != faults.Permanent && c != faults.Business
}

// State returns the breaker's state. An open breaker whose timeout has
// passed becomes half-open here.
func (b *CircuitBreaker) State() BreakerState {
	b.mu.Lock()
	trs := b.refresh(nil)
	st := b.state
	b.unlockAndNotify(trs)
	return st
}

// Do calls fn if the breaker allows it and records the outcome; otherwise
// it returns an *OpenError without calling fn. A panic in fn counts as a
// failure and is re-raised.
func (b *CircuitBreaker) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	gen, err := b.allow()
	if err != nil {
		return err
	}
	finished := false
	defer func() {
		if !finished {
			b.record(gen, true)
		}
	}()
	err = fn(ctx)
	finished = true
	b.record(gen, b.cfg.IsFailure(err))
	return err
}

// WithCircuitBreaker runs the wrapped step through b. Place it inside
// WithRetry so that each attempt is guarded and an open breaker's
// retry-after hint paces the retries; see Wrap.
func WithCircuitBreaker(b *CircuitBreaker) StepMiddleware {
	return func(next Step) Step {
		return func(ctx context.Context, ac *JobInfo, in any) (any, error) {
			var out any
			err := b.Do(ctx, func(ctx context.Context) error {
				var err error
				out, err = next(ctx, ac, in)
				return err
			})
			return out, err
		}
	}
}

// allow admits a call or rejects it with an *OpenError. It returns the
// generation the call belongs to.
func (b *CircuitBreaker) allow() (uint64, error) {
	b.mu.Lock()
	trs := b.refresh(nil)
	var err error
	switch b.state {
	case BreakerOpen:
		remaining := b.openedAt.Add(b.cfg.OpenTimeout).Sub(b.cfg.Clock.Now())
		err = &OpenError{Breaker: b.cfg.Name, State: BreakerOpen, Remaining: max(remaining, 0)}
	case BreakerHalfOpen:
		if b.inFlight+b.successes >= b.cfg.HalfOpenMaxCalls {
			err = &OpenError{Breaker: b.cfg.Name, State: BreakerHalfOpen}
		} else {
			b.inFlight++
		}
	}
	gen := b.gen
	b.unlockAndNotify(trs)
	return gen, err
}

// record counts the outcome of a call admitted in generation gen. Outcomes
// of calls admitted before the last state change are ignored.
func (b *CircuitBreaker) record(gen uint64, failed bool) {
	b.mu.Lock()
	var trs []transition
	if gen == b.gen {
		switch b.state {
		case BreakerClosed:
			if !failed {
				b.failures = 0
			} else if b.failures++; b.failures >= b.cfg.FailureThreshold {
				trs = b.setState(trs, BreakerOpen)
			}
		case BreakerHalfOpen:
			b.inFlight--
			if failed {
				trs = b.setState(trs, BreakerOpen)
			} else if b.successes++; b.successes >= b.cfg.HalfOpenMaxCalls {
				trs = b.setState(trs, BreakerClosed)
			}
		}
	}
	b.unlockAndNotify(trs)
}

// refresh turns an open breaker half-open once its timeout has passed.
// b.mu must be held.
func (b *CircuitBreaker) refresh(trs []transition) []transition {
	if b.state == BreakerOpen && !b.cfg.Clock.Now().Before(b.openedAt.Add(b.cfg.OpenTimeout)) {
		trs = b.setState(trs, BreakerHalfOpen)
	}
	return trs
}

// setState moves to state to, starting a new generation. b.mu must be held.
func (b *CircuitBreaker) setState(trs []transition, to BreakerState) []transition {
	trs = append(trs, transition{b.state, to})
	b.state = to
	b.gen++
	b.failures, b.inFlight, b.successes = 0, 0, 0
	if to == BreakerOpen {
		b.openedAt = b.cfg.Clock.Now()
	}
	return trs
}

// unlockAndNotify releases b.mu and reports trs to OnStateChange, in order
// with any other goroutine's reports.
func (b *CircuitBreaker) unlockAndNotify(trs []transition) {
	if len(trs) == 0 || b.cfg.OnStateChange == nil {
		b.mu.Unlock()
		return
	}
	b.notifyMu.Lock()
	b.mu.Unlock()
	defer b.notifyMu.Unlock()
	for _, t := range trs {
		b.cfg.OnStateChange(b.cfg.Name, t.from, t.to)
	}
}
