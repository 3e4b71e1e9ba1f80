package status

import (
	"encoding/json"
	"time"
)

// Status is the state of a job as reported in an Event.
type Status string

// The statuses a job moves through. A job starts PENDING, becomes PROCESSING
// when an attempt starts, RETRYING between failed attempts, and ends
// COMPLETED or FAILED.
const (
	Pending    Status = "PENDING"
	Processing Status = "PROCESSING"
	Retrying   Status = "RETRYING"
	Completed  Status = "COMPLETED"
	Failed     Status = "FAILED"
)

// Event is one change of a job's status. Its JSON form is the status protocol
// that WebSocket clients read (see the package documentation, "Event JSON").
type Event struct {
	JobID      string            `json:"jobId" msgpack:"jobId"`
	WorkerID   string            `json:"workerId,omitempty" msgpack:"workerId,omitempty"`
	Status     Status            `json:"status" msgpack:"status"`
	Attempt    int               `json:"attempt" msgpack:"attempt"`
	Error      string            `json:"error,omitempty" msgpack:"error,omitempty"`
	ErrorClass string            `json:"errorClass,omitempty" msgpack:"errorClass,omitempty"`
	Time       time.Time         `json:"time" msgpack:"time"`
	Headers    map[string]string `json:"headers,omitempty" msgpack:"headers,omitempty"`
	Data       json.RawMessage   `json:"data,omitempty" msgpack:"data,omitempty"`
}

// Publisher receives status events. Implementations must not block the
// caller for long: publishing happens on the job's own goroutine.
type Publisher interface {
	Publish(Event)
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(Event)

// Publish calls f(ev).
func (f PublisherFunc) Publish(ev Event) { f(ev) }
