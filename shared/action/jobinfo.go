package action

import (
	"maps"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// JobInfo is what an action knows about the job it runs in. One JobInfo
// belongs to one run of a job: the pipeline and the wrappers update it as
// the job goes (Action, Attempt), so it must not be shared between jobs
// running at the same time. The zero value is usable. It is not a
// context.Context: an action gets both, the call's ctx and its *JobInfo.
type JobInfo struct {
	// JobID and WorkerID identify the job and the worker running it. They
	// appear in every log line and status event.
	JobID    string
	WorkerID string

	// Action is the name of the action running now (or that ran last). The
	// pipeline and Wrap set it.
	Action string

	// Attempt is the 1-based attempt number. A pipeline sets 0 to 1;
	// WithRetry sets it for each try of the action it wraps and restores it
	// afterwards.
	Attempt int

	// Logger receives the wrappers' logs. nil means no logging.
	Logger hclog.Logger

	// Status receives status events. nil means none are published.
	Status status.Publisher

	// Deps holds injected dependencies (clients, stores) by name; read them
	// with Dep.
	Deps map[string]any

	// Headers carries the call's trace context (W3C traceparent, tracestate)
	// and user headers. They are copied into every status event.
	Headers map[string]string

	// statusActive is set while WithStatus runs, so that nested pipelines
	// publish one PROCESSING and one final event per job.
	statusActive bool
}

// Dep returns the dependency called name if there is one of type T.
func Dep[T any](ac *JobInfo, name string) (T, bool) {
	var zero T
	if ac == nil {
		return zero, false
	}
	v, ok := ac.Deps[name].(T)
	if !ok {
		return zero, false
	}
	return v, true
}

// Log returns ac.Logger (or a logger that discards) with the job's fields:
// job_id, worker_id, action and attempt.
func (ac *JobInfo) Log() hclog.Logger {
	return ac.logger(nil).With(ac.logFields()...)
}

// logger returns override, else ac.Logger, else a null logger.
func (ac *JobInfo) logger(override hclog.Logger) hclog.Logger {
	switch {
	case override != nil:
		return override
	case ac.Logger != nil:
		return ac.Logger
	default:
		return hclog.NewNullLogger()
	}
}

func (ac *JobInfo) logFields() []any {
	return []any{"job_id", ac.JobID, "worker_id", ac.WorkerID, "action", ac.Action, "attempt", ac.Attempt}
}

// publish sends a status event built from ac, if ac.Status is set.
func (ac *JobInfo) publish(st status.Status, attempt int, err error) {
	if ac.Status == nil {
		return
	}
	ev := status.Event{
		JobID:    ac.JobID,
		WorkerID: ac.WorkerID,
		Status:   st,
		Attempt:  attempt,
		Time:     time.Now(),
		Headers:  maps.Clone(ac.Headers),
	}
	if err != nil {
		ev.Error = err.Error()
		ev.ErrorClass = faults.ClassOf(err).String()
	}
	ac.Status.Publish(ev)
}
