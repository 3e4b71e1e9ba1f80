package queue

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// Defaults for ConsumerConfig.
const (
	// DefaultConsumerName is the durable consumer hosts share unless
	// ConsumerConfig.Name says otherwise.
	DefaultConsumerName = "workers"

	// DefaultAckWait is how long the engine waits for a sign of life from
	// the host running a job before it re-delivers the job elsewhere. The
	// consumer signals every AckWait/2 while the handler runs, so this
	// bounds how long a job stays stuck on a host that died, not how long
	// a job may run.
	DefaultAckWait = 30 * time.Second

	// DefaultMaxInFlight bounds the jobs one Consume runs at once.
	DefaultMaxInFlight = 64

	// DefaultFetchWait is how long one pull waits for jobs before it asks
	// again. A stopping Consume lets its last pull run out rather than
	// abandon it (an abandoned pull would keep receiving jobs on the engine
	// that nobody takes), so this also bounds how long stopping takes.
	DefaultFetchWait = time.Second

	// DefaultCapacityPoll is how often Consume asks Capacity again while it
	// reports no room and none of this consumer's own jobs is running (the
	// pool may be busy with other work, which sends no signal).
	DefaultCapacityPoll = 50 * time.Millisecond

	// DefaultSettleTimeout bounds each acknowledgement and each dead-letter
	// write after a handler returns.
	DefaultSettleTimeout = 10 * time.Second
)

// Handler runs one job. Returning nil acknowledges it; an error is
// classified with package faults and retried or dead-lettered (see
// Consume). A handler may run more than once for one job (at-least-once
// delivery): use Job.ID to make its effects idempotent.
type Handler func(ctx context.Context, job Job) error

// ConsumerConfig configures Consume. A zero field means its default.
type ConsumerConfig struct {
	// Name is the durable consumer. Hosts that Consume with the same Name
	// (and Types) share its jobs: each job goes to one of them at a time.
	Name string

	// Types limits the consumer to these job types. nil means every type.
	// Two consumers with different Names must not share a type (the jobs
	// stream is a work queue: each job is consumed once).
	Types []string

	// Handler runs each job. Required.
	Handler Handler

	// Capacity reports how many more jobs the host can run now, typically
	// the free slots of its pool. Consume pulls at most that many (and at
	// most MaxInFlight minus its running jobs). nil means MaxInFlight.
	// It is called from Consume's goroutine only.
	Capacity func() int

	// MaxInFlight: see DefaultMaxInFlight.
	MaxInFlight int

	// Retry decides which failures are retried, how often and after what
	// delay: attempt n of a job is its n-th delivery, and a retryable
	// failure is re-delivered after Retry.Delay(n-1, err). The zero policy
	// is retry's default (3 attempts, 1 s base delay, full jitter).
	Retry retry.Policy

	// AckWait: see DefaultAckWait. Used when the consumer is created or
	// updated; every host sharing a consumer should use the same value.
	AckWait time.Duration

	// FetchWait: see DefaultFetchWait.
	FetchWait time.Duration

	// CapacityPoll: see DefaultCapacityPoll.
	CapacityPoll time.Duration

	// SettleTimeout: see DefaultSettleTimeout.
	SettleTimeout time.Duration

	// Status, if set, receives PROCESSING when a job starts, RETRYING when
	// it will be re-delivered, and COMPLETED or FAILED when it ends.
	// Typically the queue's own Status() publisher.
	Status status.Publisher

	// WorkerID names this host in status events and dead letters.
	WorkerID string

	// Logger receives the consumer's logs. nil means the queue's.
	Logger hclog.Logger
}

// Validate reports the first invalid field.
func (c ConsumerConfig) Validate() error {
	switch {
	case c.Handler == nil:
		return errors.New("queue: consume: Handler is required")
	case c.Name != "" && !validName(c.Name):
		return fmt.Errorf("queue: consume: Name %q: use letters, digits, '-' and '_' only", c.Name)
	case c.MaxInFlight < 0:
		return fmt.Errorf("queue: consume: MaxInFlight must not be negative, got %d", c.MaxInFlight)
	case c.AckWait < 0 || c.AckWait > 0 && c.AckWait < 100*time.Millisecond:
		return fmt.Errorf("queue: consume: AckWait must be at least 100ms, got %v", c.AckWait)
	case c.FetchWait < 0 || c.FetchWait > 0 && c.FetchWait < 10*time.Millisecond:
		return fmt.Errorf("queue: consume: FetchWait must be at least 10ms, got %v", c.FetchWait)
	case c.CapacityPoll < 0:
		return fmt.Errorf("queue: consume: CapacityPoll must not be negative, got %v", c.CapacityPoll)
	case c.SettleTimeout < 0:
		return fmt.Errorf("queue: consume: SettleTimeout must not be negative, got %v", c.SettleTimeout)
	}
	for i, t := range c.Types {
		if !plainToken(t) {
			return fmt.Errorf("queue: consume: Types[%d] %q: use letters, digits, '-' and '_' only", i, t)
		}
	}
	if err := c.Retry.Validate(); err != nil {
		return fmt.Errorf("queue: consume: %w", err)
	}
	return nil
}

func (c ConsumerConfig) withDefaults(q *Queue) ConsumerConfig {
	if c.Name == "" {
		c.Name = DefaultConsumerName
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.FetchWait == 0 {
		c.FetchWait = DefaultFetchWait
	}
	if c.CapacityPoll == 0 {
		c.CapacityPoll = DefaultCapacityPoll
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = DefaultSettleTimeout
	}
	if c.Logger == nil {
		c.Logger = q.cfg.Logger
	}
	return c
}

// Consume runs jobs until ctx is cancelled or the queue is closed, then
// returns after every handler it started has returned: an error wrapping
// ctx.Err() or ErrClosed, or the error that stopped it.
//
// It pulls jobs from the durable consumer cfg.Name (creating it if needed),
// never more than Capacity() at a time, and runs each in its own goroutine:
//
//   - While the handler runs, the job is marked in progress every
//     AckWait/2, so a long job is not re-delivered.
//   - Success acknowledges the job (and waits for the engine to confirm).
//   - A failure is recorded with its class (package faults). A permanent or
//     business failure, or one that Retry does not retry (not retryable,
//     or the last attempt), moves the job to the dead-letter stream with
//     the errors of all its attempts, then terminates it. Any other
//     failure is re-delivered after Retry's delay for that attempt.
//   - When Consume is stopping, handlers' contexts are cancelled. A job
//     whose handler then fails is released for immediate re-delivery
//     (not recorded as a failed attempt, though the delivery counts), as
//     is any job the last pull brings in meanwhile; both only after that
//     pull has run out (at most FetchWait), since the engine would hand a
//     released job straight back to a pull still open.
//   - A host that dies never acknowledges: the engine re-delivers the job
//     after AckWait, to whichever host pulls next.
func (q *Queue) Consume(ctx context.Context, cfg ConsumerConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults(q)
	if err := q.enter(); err != nil {
		return fmt.Errorf("consume %q: %w", cfg.Name, err)
	}
	defer q.wg.Done()

	cons, err := q.consumer(ctx, cfg)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := make(chan struct{})
	go func() {
		defer close(stopOnClose)
		select {
		case <-q.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer func() { cancel(); <-stopOnClose }()

	c := &consumer{q: q, cfg: cfg, log: cfg.Logger.With("consumer", cfg.Name),
		done: make(chan struct{}, 1), pulled: make(chan struct{})}
	err = c.run(ctx, cons)
	close(c.pulled)
	c.release(c.leftover)
	c.wg.Wait()
	if q.isClosed() {
		return fmt.Errorf("consume %q: %w", cfg.Name, ErrClosed)
	}
	return err
}

// consumer creates or updates the durable consumer cfg describes.
func (q *Queue) consumer(ctx context.Context, cfg ConsumerConfig) (jetstream.Consumer, error) {
	ccfg := jetstream.ConsumerConfig{
		Durable:       cfg.Name,
		Description:   "isolated-workers hosts",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // the retry policy decides, per failure class
		MaxAckPending: -1, // each host bounds its own in-flight jobs
	}
	for _, t := range cfg.Types {
		ccfg.FilterSubjects = append(ccfg.FilterSubjects, q.n.jobSubject(t))
	}
	if len(ccfg.FilterSubjects) == 0 {
		ccfg.FilterSubject = q.n.jobs + ".>"
	}
	cons, err := q.js.CreateOrUpdateConsumer(ctx, q.n.jobsStream, ccfg)
	if err != nil {
		return nil, fmt.Errorf("consume %q: create consumer on stream %s: %w", cfg.Name, q.n.jobsStream, err)
	}
	return cons, nil
}

// consumer is one running Consume.
type consumer struct {
	q   *Queue
	cfg ConsumerConfig
	log hclog.Logger

	wg      sync.WaitGroup // handlers
	mu      sync.Mutex
	running int
	done    chan struct{} // a handler finished (buffered 1)

	// pulled is closed when the last pull has ended; jobs are released
	// (nak) on stop only after that, or the engine would hand them straight
	// back to the pull, counting a delivery each time.
	pulled   chan struct{}
	leftover []jetstream.Msg // received while stopping: released unrun
}

func (c *consumer) run(ctx context.Context, cons jetstream.Consumer) error {
	var poll *time.Timer
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consume %q: %w", c.cfg.Name, err)
		}
		c.mu.Lock()
		free := c.cfg.MaxInFlight - c.running
		running := c.running
		c.mu.Unlock()
		if c.cfg.Capacity != nil {
			free = min(free, c.cfg.Capacity())
		}
		if free <= 0 {
			var tick <-chan time.Time
			if running == 0 || c.cfg.Capacity != nil {
				// Room may appear without a signal from our handlers.
				if poll == nil {
					poll = time.NewTimer(c.cfg.CapacityPoll)
				} else {
					poll.Reset(c.cfg.CapacityPoll)
				}
				tick = poll.C
			}
			select {
			case <-ctx.Done():
			case <-c.done:
			case <-tick:
			}
			continue
		}
		if err := c.fetch(ctx, cons, free); err != nil {
			return err
		}
	}
}

// fetch pulls up to n jobs and starts a handler for each.
func (c *consumer) fetch(ctx context.Context, cons jetstream.Consumer, n int) error {
	// Not cancelled with ctx: see DefaultFetchWait.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.FetchWait)
	defer cancel()
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		return c.fetchError(ctx, err)
	}
	for m := range batch.Messages() {
		if ctx.Err() != nil {
			c.leftover = append(c.leftover, m)
			continue
		}
		c.start(ctx, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
		return c.fetchError(ctx, err)
	}
	return nil
}

// fetchError decides whether a failed pull ends Consume: it does when ctx
// is done or the connection is closed; otherwise (the engine is briefly
// unavailable, a cluster elects a leader) it logs, waits FetchWait and
// lets the loop pull again.
func (c *consumer) fetchError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("consume %q: %w", c.cfg.Name, ctx.Err())
	case errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConsumerDeleted):
		return fmt.Errorf("consume %q: pull jobs: %w", c.cfg.Name, err)
	}
	c.log.Warn("pull jobs failed; pulling again", "error", err, "after", c.cfg.FetchWait)
	t := time.NewTimer(c.cfg.FetchWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("consume %q: %w", c.cfg.Name, ctx.Err())
	case <-t.C:
		return nil
	}
}

func (c *consumer) start(ctx context.Context, m jetstream.Msg) {
	c.mu.Lock()
	c.running++
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.handle(ctx, m)
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
		select {
		case c.done <- struct{}{}:
		default:
		}
	}()
}

// handle runs one job and settles it.
func (c *consumer) handle(ctx context.Context, m jetstream.Msg) {
	job := jobFromMsg(m)
	if md, err := m.Metadata(); err == nil {
		job.Attempt = int(md.NumDelivered)
	}
	log := c.log.With("job", job.ID, "type", job.Type, "attempt", job.Attempt)
	if job.ID == "" {
		// Not written by Enqueue: nothing to run, nothing to retry.
		log.Error("message without a job id on the jobs stream; terminating it", "subject", m.Subject())
		m.TermWithReason("no " + HeaderJobID + " header")
		return
	}
	c.publish(job, status.Processing, nil)

	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(c.cfg.AckWait / 2)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := m.InProgress(); err != nil {
					log.Warn("marking the job in progress failed; it may be re-delivered while it runs", "error", err)
				}
			}
		}
	}()
	err := c.call(ctx, job)
	close(stop)
	<-ticked

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.SettleTimeout)
	defer cancel()
	switch {
	case err == nil:
		if aerr := m.DoubleAck(sctx); aerr != nil {
			log.Warn("acknowledging the job failed; it will be re-delivered", "error", aerr)
			return
		}
		if job.Attempt > 1 {
			c.q.forgetAttempts(sctx, job.ID)
		}
		c.publish(job, status.Completed, nil)
	case ctx.Err() != nil:
		// Stopping: give the job back, unjudged, once the last pull has
		// ended (see pulled).
		<-c.pulled
		c.release([]jetstream.Msg{m})
		c.publish(job, status.Pending, nil)
	default:
		c.fail(sctx, log, m, job, err)
	}
}

// release gives jobs back for immediate re-delivery, unrun or unjudged,
// and waits for the engine to confirm before Consume returns. (An engine
// that restarts forgets a release and re-delivers after AckWait.)
func (c *consumer) release(ms []jetstream.Msg) {
	for _, m := range ms {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.SettleTimeout)
		if err := c.nakSync(ctx, m); err != nil {
			c.log.Warn("releasing a job failed; it will be re-delivered after AckWait", "job", m.Headers().Get(HeaderJobID), "error", err)
		}
		cancel()
	}
}

// nakSync is m.Nak that waits for the engine's confirmation (the engine
// answers any acknowledgement that carries a reply subject).
func (c *consumer) nakSync(ctx context.Context, m jetstream.Msg) error {
	_, err := c.q.nc.RequestWithContext(ctx, m.Reply(), []byte("-NAK"))
	return err
}

// call runs the handler, turning a panic into a System-class error.
func (c *consumer) call(ctx context.Context, job Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = faults.New(faults.System, fmt.Errorf("handler panicked: %v\n%s", r, debug.Stack()))
		}
	}()
	return c.cfg.Handler(ctx, job)
}

// fail records a failed attempt and re-delivers or dead-letters the job.
func (c *consumer) fail(ctx context.Context, log hclog.Logger, m jetstream.Msg, job Job, err error) {
	class := faults.ClassOf(err)
	errs, rerr := c.q.recordAttempt(ctx, job.ID, newAttemptError(job.Attempt, err, c.cfg.WorkerID))
	if rerr != nil {
		log.Warn("recording the attempt's error failed; the dead letter will miss it", "error", rerr)
	}
	final := class == faults.Permanent || class == faults.Business || !c.cfg.Retry.ShouldRetry(job.Attempt, err)
	if !final {
		delay, derr := c.cfg.Retry.Delay(job.Attempt-1, err)
		if derr == nil {
			if nerr := m.NakWithDelay(delay); nerr != nil {
				log.Warn("scheduling the retry failed; the job will be re-delivered after AckWait", "error", nerr)
			}
			log.Debug("job failed; retrying", "error", err, "class", class, "delay", delay)
			c.publish(job, status.Retrying, err)
			return
		}
		log.Error("retry delay failed; dead-lettering the job", "error", derr)
		err = errors.Join(err, derr)
	}
	if len(errs) == 0 {
		errs = []AttemptError{*newAttemptError(job.Attempt, err, c.cfg.WorkerID)}
	}
	rec := deadRecord{
		Job:      job,
		WorkerID: c.cfg.WorkerID,
		Errors:   errs,
		Attempts: job.Attempt,
		Redrives: job.redrives,
	}
	if _, derr := c.q.deadLetters.put(ctx, rec); derr != nil {
		// Not lost: leave it to the engine to re-deliver, and try again then.
		log.Error("writing the dead letter failed; the job will be re-delivered", "error", derr)
		m.NakWithDelay(c.cfg.AckWait)
		return
	}
	if terr := m.TermWithReason("dead-lettered: " + class.String()); terr != nil {
		log.Warn("terminating the dead-lettered job failed; it may be re-delivered", "error", terr)
	}
	c.q.forgetAttempts(ctx, job.ID)
	log.Info("job failed for good; dead-lettered", "error", err, "class", class)
	c.publish(job, status.Failed, err)
}

func (c *consumer) publish(job Job, st status.Status, err error) {
	if c.cfg.Status == nil {
		return
	}
	ev := status.Event{
		JobID:    job.ID,
		WorkerID: c.cfg.WorkerID,
		Status:   st,
		Attempt:  job.Attempt,
		Time:     time.Now(),
		Headers:  job.Headers,
	}
	if err != nil {
		ev.Error = err.Error()
		ev.ErrorClass = faults.ClassOf(err).String()
	}
	c.cfg.Status.Publish(ev)
}
