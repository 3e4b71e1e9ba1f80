package action_test

import (
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared/action"
)

type mailer struct{ from string }

func TestDep(t *testing.T) {
	ac := &action.JobInfo{Deps: map[string]any{"mailer": &mailer{from: "ops@example.com"}, "limit": 3}}
	if m, ok := action.Dep[*mailer](ac, "mailer"); !ok || m.from != "ops@example.com" {
		t.Errorf("Dep[*mailer](mailer) = %v, %v, want the mailer, true", m, ok)
	}
	if n, ok := action.Dep[int](ac, "limit"); !ok || n != 3 {
		t.Errorf("Dep[int](limit) = %v, %v, want 3, true", n, ok)
	}
	if _, ok := action.Dep[string](ac, "limit"); ok {
		t.Errorf("Dep[string](limit) ok = true, want false for the wrong type")
	}
	if _, ok := action.Dep[int](ac, "missing"); ok {
		t.Errorf("Dep[int](missing) ok = true, want false")
	}
	if _, ok := action.Dep[int](nil, "limit"); ok {
		t.Errorf("Dep[int](nil context) ok = true, want false")
	}
	if _, ok := action.Dep[int](&action.JobInfo{}, "limit"); ok {
		t.Errorf("Dep[int](no deps) ok = true, want false")
	}
}

func TestJobInfoLog(t *testing.T) {
	logger, logs := newLogger(t)
	ac := &action.JobInfo{JobID: "j1", WorkerID: "w1", Action: "parse", Attempt: 2, Logger: logger}
	ac.Log().Info("hello")
	lines := logs.Lines(t)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1", len(lines))
	}
	for k, want := range map[string]any{"job_id": "j1", "worker_id": "w1", "action": "parse", "attempt": 2.0, "@message": "hello"} {
		if got := lines[0][k]; got != want {
			t.Errorf("log field %s = %v, want %v", k, got, want)
		}
	}
	// Without a logger, logging is a no-op rather than a nil dereference.
	(&action.JobInfo{}).Log().Info("discarded")
}
