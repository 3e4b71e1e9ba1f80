package action_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

var traceHeaders = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}

func TestStatusEventsInOrder(t *testing.T) {
	flaky := 0
	charge := action.Wrap(action.New("charge", func(_ context.Context, _ *action.JobInfo, n int) (int, error) {
		if flaky++; flaky < 3 {
			return 0, faults.Transientf("gateway timeout")
		}
		return n, nil
	}), action.WithRetry(retry.Policy{DelayFunc: func(int) time.Duration { return 0 }}))
	refuse := action.New("refuse", func(context.Context, *action.JobInfo, int) (int, error) {
		return 0, faults.Businessf("card declined")
	})

	ev := func(st status.Status, attempt int, errText, class string) status.Event {
		return status.Event{JobID: "job-1", WorkerID: "w-1", Status: st, Attempt: attempt, Error: errText, ErrorClass: class, Headers: traceHeaders}
	}
	tests := []struct {
		name   string
		stages []action.Stage
		want   []status.Event
	}{
		{"completed", []action.Stage{double}, []status.Event{
			ev(status.Processing, 1, "", ""),
			ev(status.Completed, 1, "", ""),
		}},
		{"retried then completed", []action.Stage{double, charge}, []status.Event{
			ev(status.Processing, 1, "", ""),
			ev(status.Retrying, 1, "gateway timeout", "transient"),
			ev(status.Retrying, 2, "gateway timeout", "transient"),
			ev(status.Completed, 1, "", ""),
		}},
		{"failed", []action.Stage{double, refuse}, []status.Event{
			ev(status.Processing, 1, "", ""),
			ev(status.Failed, 1, `action "refuse": card declined`, "business"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flaky = 0
			p, err := action.NewPipeline[int, int]("job", tt.stages)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			start := time.Now()
			_, _ = p.Run(testContext(t), &action.JobInfo{JobID: "job-1", WorkerID: "w-1", Status: rec, Headers: traceHeaders}, 1)
			got := rec.Events()
			if diff := cmp.Diff(tt.want, got, ignoreTime); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			for i, e := range got {
				if e.Time.Before(start) || (i > 0 && e.Time.Before(got[i-1].Time)) {
					t.Errorf("event %d time %v is before the run or the previous event", i, e.Time)
				}
			}
		})
	}
}

func TestStatusHeadersAreCopied(t *testing.T) {
	rec := &recorder{}
	headers := map[string]string{"traceparent": "a"}
	ac := &action.JobInfo{JobID: "j", Status: rec, Headers: headers}
	p, err := action.NewPipeline[int, int]("p", []action.Stage{double})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(testContext(t), ac, 1); err != nil {
		t.Fatal(err)
	}
	headers["traceparent"] = "changed"
	for _, e := range rec.Events() {
		if e.Headers["traceparent"] != "a" {
			t.Errorf("%s event headers = %v, want a copy taken when published", e.Status, e.Headers)
		}
	}
}

func TestStatusNestedPipelinePublishesOnce(t *testing.T) {
	inner, err := action.NewPipeline[int, int]("inner", []action.Stage{double})
	if err != nil {
		t.Fatal(err)
	}
	outer, err := action.NewPipeline[int, int]("outer", []action.Stage{inner, inner})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if _, err := outer.Run(testContext(t), &action.JobInfo{JobID: "j", Status: rec}, 1); err != nil {
		t.Fatal(err)
	}
	var got []status.Status
	for _, e := range rec.Events() {
		got = append(got, e.Status)
	}
	if diff := cmp.Diff([]status.Status{status.Processing, status.Completed}, got); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
}

func TestWithStatusOnWrappedAction(t *testing.T) {
	rec := &recorder{}
	w := action.Wrap(double, action.WithStatus())
	if _, err := w.Run(testContext(t), &action.JobInfo{JobID: "j", Attempt: 2, Status: rec}, 1); err != nil {
		t.Fatal(err)
	}
	want := []status.Event{{JobID: "j", Status: status.Processing, Attempt: 2}, {JobID: "j", Status: status.Completed, Attempt: 2}}
	if diff := cmp.Diff(want, rec.Events(), ignoreTime); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	// Without a publisher nothing happens.
	if _, err := w.Run(testContext(t), &action.JobInfo{}, 1); err != nil {
		t.Errorf("Run() without a publisher = %v", err)
	}
}

func TestStatusReportsPanicPassingThrough(t *testing.T) {
	boom := action.New("boom", func(context.Context, *action.JobInfo, int) (int, error) { panic("bad state") })
	p, err := action.NewPipeline[int, int]("p", []action.Stage{boom})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ac := &action.JobInfo{JobID: "j", Status: rec}
	func() {
		defer func() {
			if v := recover(); v != "bad state" {
				t.Errorf("recovered %v, want the original panic value", v)
			}
		}()
		_, _ = p.Run(testContext(t), ac, 1)
	}()
	want := []status.Event{
		{JobID: "j", Status: status.Processing, Attempt: 1},
		{JobID: "j", Status: status.Failed, Attempt: 1, Error: "panic: bad state", ErrorClass: "system"},
	}
	if diff := cmp.Diff(want, rec.Events(), ignoreTime); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	// The JobInfo is usable again: the next run publishes its own events.
	if _, err := action.Wrap(double, action.WithStatus()).Run(testContext(t), ac, 1); err != nil || len(rec.Events()) != 4 {
		t.Errorf("run after the panic: err %v, %d events in all, want nil, 4", err, len(rec.Events()))
	}
}
