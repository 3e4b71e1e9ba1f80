package shared

import "time"

// Message defines a request/result pair by name. Define each message once,
// in a package that host and worker both import.
type Message[Req, Res any] struct {
	name       string
	timeout    time.Duration
	hasTimeout bool
	crashRetry int // re-sends after a worker crash, on a pool (WithCrashRetry)
}

// NewMessage defines the message called name whose request is a Req and
// whose result is a Res. A Req or Res of type []byte travels as raw bytes,
// never through the serializer (see the README, "Large payloads").
func NewMessage[Req, Res any](name string) Message[Req, Res] {
	return Message[Req, Res]{name: name}
}

// Name returns the message type name that travels in the envelope.
func (m Message[Req, Res]) Name() string { return m.name }

// WithTimeout returns a copy of m whose calls time out after d unless the
// caller's context has an earlier deadline. It overrides the host's
// CallTimeout. Zero means no timeout; a negative d is treated as zero.
func (m Message[Req, Res]) WithTimeout(d time.Duration) Message[Req, Res] {
	m.timeout, m.hasTimeout = max(d, 0), true
	return m
}

// Timeout returns the message's own timeout and whether it has one.
func (m Message[Req, Res]) Timeout() (time.Duration, bool) { return m.timeout, m.hasTimeout }

// WithCrashRetry returns a copy of m that a pool (host.Pool) re-sends to
// another worker, at most n times, when the worker running the call dies
// under it (crash, kill, failed health check). Mark only idempotent
// messages so: the handler may have run, in part or whole, on the worker
// that died. A retried call is dispatched again like a new call, once the
// pool has seen the crash, so it may run after calls sent later. The
// default, and n <= 0, is Reject: the call fails with the worker's exit (a
// *host.ExitError naming the worker and its exit status or signal). A
// single worker (host.Worker) never retries.
func (m Message[Req, Res]) WithCrashRetry(n int) Message[Req, Res] {
	m.crashRetry = max(n, 0)
	return m
}

// CrashRetries returns how many times a pool re-sends a call of m whose
// worker died under it (see WithCrashRetry); 0 means Reject.
func (m Message[Req, Res]) CrashRetries() int { return m.crashRetry }

// EventDef defines a one-way message a worker emits to its host, such as a
// job status change: its name and payload type, as Message defines a call.
// The host receives each emitted event as a host.ReceivedEvent; a job's
// status change itself is a status.Event.
type EventDef[T any] struct{ name string }

// NewEvent defines the event called name carrying a T.
func NewEvent[T any](name string) EventDef[T] { return EventDef[T]{name: name} }

// Name returns the event name that travels in the envelope.
func (e EventDef[T]) Name() string { return e.name }
