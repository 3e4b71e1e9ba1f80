package shared

import "time"

// Message defines a request/result pair by name. Define each message once,
// in a package that host and worker both import.
type Message[Req, Res any] struct {
	name       string
	timeout    time.Duration
	hasTimeout bool
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

// Event defines a one-way message a worker emits to its host, such as a job
// status change.
type Event[T any] struct{ name string }

// NewEvent defines the event called name carrying a T.
func NewEvent[T any](name string) Event[T] { return Event[T]{name: name} }

// Name returns the event name that travels in the envelope.
func (e Event[T]) Name() string { return e.name }
