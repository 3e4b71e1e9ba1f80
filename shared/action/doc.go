// Package action runs the steps of a job, with retry, error handling,
// status events, circuit breaking and dead-lettering added by wrappers
// rather than written into every step.
//
// # Actions
//
// An [Action] is a named, typed step: a [Func] from In to Out that also gets
// the job's [*JobInfo] (job and worker IDs, attempt, logger, status
// publisher, injected dependencies read with [Dep][T](ac, "name"), and the
// call's headers):
//
//	parse := action.New("parse", func(ctx context.Context, ac *action.JobInfo, raw []byte) (Order, error) {
//		var o Order
//		if err := json.Unmarshal(raw, &o); err != nil {
//			return Order{}, faults.New(faults.Permanent, err)
//		}
//		return o, nil
//	})
//
// Generics stop at this edge. Inside, an action is a [Step], a function from
// any to any, and that is what [StepMiddleware] (a func(next Step) Step) wraps:
// to one action with [Wrap], or to a whole pipeline as [NewPipeline]'s
// trailing arguments.
//
// # Pipelines
//
// A [Pipeline] runs stages (actions or other pipelines) in order, each
// stage's output the next stage's input:
//
//	breaker, _ := action.NewCircuitBreaker(action.BreakerConfig{Name: "payments"})
//	dead, _ := action.NewDeadLetter(action.DeadLetterConfig{})
//	counters := &action.Counters{} // failures by class
//	charge := action.Wrap(chargeCard,
//		action.WithRetry(retry.Policy{MaxAttempts: 5}),
//		action.WithCircuitBreaker(breaker),
//	)
//	p, err := action.NewPipeline[[]byte, Receipt]("checkout",
//		[]action.Stage{parse, validate, charge},
//		action.WithDeadLetter(dead),
//		action.WithErrorHandling(action.ErrorHandlingConfig{Counters: counters}),
//	)
//
//	// in a worker's handler:
//	receipt, err := p.Run(ctx, &action.JobInfo{
//		JobID:    jobID,
//		WorkerID: workerID,
//		Logger:   plugin.Logger(ctx),
//		Status:   plugin.StatusPublisher(ctx), // status events travel to the host's hub
//		Headers:  shared.HeadersFrom(ctx),     // the call's traceparent reaches them
//	}, raw)
//
// Rules of a pipeline:
//
//   - Types are checked once, when the pipeline is built. Go's type
//     parameters cannot describe a chain of differently typed steps, so
//     NewPipeline checks that In fits the first stage, each output the next
//     input, and the last output Out. A mismatch is a construction error
//     naming the stage, never a run-time surprise, such as
//     `pipeline "checkout": stage 2 ("charge") takes main.Order, but stage
//     1 ("validate") returns main.Invoice`.
//   - A failing stage stops the pipeline; its error is wrapped as
//     `action "charge": ...` and keeps its class. The context is checked
//     between stages.
//   - A pipeline is a stage of another pipeline as it is (or
//     [Pipeline.Action] to Wrap it); a nested pipeline publishes no status
//     events of its own.
//
// # Composition order
//
// StepMiddleware is applied once, when [Wrap] or [NewPipeline] builds the chain.
// The first middleware listed is the outermost: in Wrap(a, m1, m2), m1 calls
// m2, which calls a; m1 sees the call first and the result last. Use this
// order, outermost first:
//
//   - [WithStatus]: added by every Pipeline, outside its own middleware:
//     publishes PROCESSING, then COMPLETED or FAILED.
//   - [WithDeadLetter](sink): adds each failure that reaches it to the sink,
//     with its input and every attempt's error; outermost, so only final
//     failures reach it.
//   - [WithErrorHandling](cfg): recovers panics as [*PanicError] (class
//     system); for each failure logs one Error line (job_id, worker_id,
//     action, attempt, error_class, error) to cfg.Logger (else the
//     JobInfo's Logger), counts it by class in cfg.Counters, calls Cleanup,
//     then OnError, which may translate the error or swallow it (return
//     nil).
//   - [WithRetry](policy): retries the call under the policy (package
//     shared/retry: formula and defaults), sets JobInfo.Attempt for each
//     try, and before each retry logs a Warn line, publishes RETRYING and
//     calls policy.OnRetry. Panics are not retried.
//   - [WithCircuitBreaker](b): guards every attempt; an open breaker fails
//     fast with an [*OpenError].
//   - the action.
//
// Error handling sits outside retry, so a retried call is logged, counted
// and handled once, with its final error. The breaker sits inside retry, so
// it sees every attempt, and an open breaker's retry-after hint paces the
// retries. A pipeline's own middleware (the arguments after the stages)
// sits between its WithStatus and its stages; per-action middleware is
// applied with Wrap.
//
// # Circuit breaker
//
// [NewCircuitBreaker]([BreakerConfig]) builds a breaker, shared by all calls
// to one dependency:
//
//   - closed: FailureThreshold consecutive failures (default 5,
//     [DefaultFailureThreshold]) open it.
//   - open: every call fails at once for OpenTimeout (default 30s,
//     [DefaultOpenTimeout]) with an [*OpenError]: errors.Is(err,
//     [ErrCircuitOpen]), class transient, and a retry-after hint of the time
//     left, so an outer WithRetry waits exactly that long (capped by its
//     MaxDelay).
//   - half-open: HalfOpenMaxCalls trial calls (default 1,
//     [DefaultHalfOpenMaxCalls]) go through, further calls are rejected; if
//     every trial succeeds it closes, if one fails it opens again.
//
// By default (IsFailure nil) permanent and business errors count as
// successes: bad input and refused domain rules say nothing about the
// dependency's health. OnStateChange(name, from, to) reports every
// transition, one at a time, in order.
//
// # Dead letters
//
// [NewDeadLetter]([DeadLetterConfig]) builds a sink that keeps jobs that
// failed for good, so an operator can inspect and re-drive them. Each
// [Entry] has an ID (dl-1, dl-2, ...), JobID, WorkerID, Action, Headers, the
// failed step's Input, the final Err, every attempt's error in Errors (from
// the *retry.Error, else just Err), Attempts, Redrives and Time.
//
//   - The sink holds at most MaxEntries (default 1000,
//     [DefaultDeadLetterMaxEntries]; the oldest is dropped), each for
//     Retention (default 7 days, [DefaultDeadLetterRetention]) after it was
//     last added; drops are counted in Stats (Evicted, Expired).
//   - Inspect with List (oldest first), Get(id), Len and Stats; delete with
//     Remove(id).
//   - [DeadLetter.Redrive](ctx, id, run) calls run(ctx, entry), typically the
//     pipeline again with entry.Input. Success removes the entry; failure
//     keeps it with the new error, the new attempts' errors appended,
//     Redrives incremented and OnDeadLetter called again. Failures inside
//     run are not dead-lettered a second time. An unknown id wraps
//     [ErrNotFound]; a second concurrent re-drive of one entry
//     [ErrRedriveInProgress].
//   - A job whose context was cancelled is not dead-lettered: the caller
//     gave up, the job did not fail.
//
// All defaults are constants in defaults.go; a zero config field means its
// default.
//
// # Status events
//
// When JobInfo.Status is set, a pipeline publishes PROCESSING when a job
// starts (PENDING is published by whoever queues the job, not by the
// pipeline), RETRYING before each retry of a wrapped action (with the failed
// attempt's number and error), and COMPLETED or FAILED (with the error text
// and its faults class) when the job ends. Every event carries the job and
// worker IDs, the attempt, the time and a copy of JobInfo.Headers, which is
// how a call's W3C trace context reaches the status stream. A pipeline
// nested in another publishes nothing of its own.
//
// # Errors
//
// Errors keep their faults class through every wrapper: retry.Error,
// the pipeline's `action "name": %w` wrapping and the dead-letter sink all
// unwrap. A recovered panic is a [*PanicError] of class System; a call
// rejected by an open breaker is an [*OpenError] (errors.Is
// [ErrCircuitOpen]) of class Transient with a retry-after hint.
//
// # Concurrency
//
// A [JobInfo] belongs to one run of one job and must not be shared between
// runs that overlap: pipelines and wrappers update its Action and Attempt
// fields. Everything else is built once and then safe for concurrent use by
// any number of jobs, each with its own JobInfo: actions, wrapped actions,
// pipelines, [Counters], [CircuitBreaker] and [DeadLetter]. Callbacks
// (OnError, Cleanup, OnStateChange, OnDeadLetter, OnRetry) run on the job's
// goroutine, without locks held, and may therefore run concurrently for
// different jobs. Nothing in this package starts a goroutine.
package action
