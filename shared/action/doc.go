// Package action runs the steps of a job, with retry, error handling,
// status events, circuit breaking and dead-lettering added by wrappers
// rather than written into every step.
//
// # Actions
//
// An [Action] is a named, typed step: a [Func] from In to Out that also gets
// the job's [Context] (job and worker IDs, attempt, logger, status
// publisher, injected dependencies, trace headers):
//
//	parse := action.New("parse", func(ctx context.Context, ac *action.Context, raw []byte) (Order, error) {
//		var o Order
//		if err := json.Unmarshal(raw, &o); err != nil {
//			return Order{}, faults.New(faults.Permanent, err)
//		}
//		return o, nil
//	})
//
// Generics stop at this edge. Inside, an action is a [Step], a function from
// any to any, and that is what [Middleware] wraps.
//
// # Pipelines
//
// A [Pipeline] runs stages (actions or other pipelines) in order, each
// stage's output the next stage's input:
//
//	p, err := action.NewPipeline[[]byte, Receipt]("checkout",
//		[]action.Stage{parse, validate, charge},
//		action.WithDeadLetter(dl), action.WithErrorHandling(cfg))
//	receipt, err := p.Run(ctx, &action.Context{JobID: id, Status: pub}, raw)
//
// Go's type parameters cannot describe a chain of differently typed steps,
// so NewPipeline checks the types once, when it builds the chain: In must
// fit the first stage, each output the next input, and the last output Out.
// A mismatch is a construction error, never a run-time surprise. A failing
// stage stops the pipeline and its error is wrapped as `action "charge": ...`.
//
// # Composition order
//
// Middleware is applied once, when [Wrap] or [NewPipeline] builds the chain.
// The first middleware listed is the outermost: in Wrap(a, m1, m2), m1 calls
// m2, which calls a; m1 sees the call first and the result last. The
// recommended order, outermost first:
//
//	WithStatus          (added by every Pipeline: PROCESSING, COMPLETED, FAILED)
//	WithDeadLetter      records only final failures, with every attempt's error
//	WithErrorHandling   recovers panics; logs, counts, cleans up, translates once per call
//	WithRetry           retries the call; RETRYING events between attempts
//	WithCircuitBreaker  guards every attempt; an open breaker fails fast
//	the action
//
// A pipeline's own middleware (the arguments after the stages) sits between
// its WithStatus and its stages; per-action middleware is applied with Wrap:
//
//	charge := action.Wrap(chargeCard, action.WithRetry(policy), action.WithCircuitBreaker(payments))
//
// # Status events
//
// When Context.Status is set, a pipeline publishes PROCESSING when a job
// starts, RETRYING before each retry of a wrapped action (with the failed
// attempt's number and error), and COMPLETED or FAILED (with the error text
// and its faults class) when the job ends. Every event carries the job and
// worker IDs, the attempt, the time and a copy of Context.Headers, which is
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
// A [Context] belongs to one run of one job and must not be shared between
// runs that overlap: pipelines and wrappers update its Action and Attempt
// fields. Everything else is built once and then safe for concurrent use by
// any number of jobs, each with its own Context: actions, wrapped actions,
// pipelines, [Counters], [CircuitBreaker] and [DeadLetter]. Callbacks
// (OnError, Cleanup, OnStateChange, OnDeadLetter, OnRetry) run on the job's
// goroutine, without locks held, and may therefore run concurrently for
// different jobs. Nothing in this package starts a goroutine.
package action
