package action_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
)

// tracing returns a middleware that appends "name>" on the way in and
// "<name" on the way out to *trace.
func tracing(name string, trace *[]string) action.StepMiddleware {
	return func(next action.Step) action.Step {
		return func(ctx context.Context, ac *action.JobInfo, in any) (any, error) {
			*trace = append(*trace, name+">")
			out, err := next(ctx, ac, in)
			*trace = append(*trace, "<"+name)
			return out, err
		}
	}
}

func TestWrapOrderFirstIsOutermost(t *testing.T) {
	var trace []string
	a := action.New("double", func(_ context.Context, ac *action.JobInfo, n int) (int, error) {
		trace = append(trace, "run "+ac.Action)
		return 2 * n, nil
	})
	w := action.Wrap(a, tracing("m1", &trace), nil, tracing("m2", &trace))
	got, err := w.Run(testContext(t), &action.JobInfo{}, 21)
	if got != 42 || err != nil {
		t.Errorf("Run(21) = %d, %v, want 42, nil", got, err)
	}
	want := []string{"m1>", "m2>", "run double", "<m2", "<m1"}
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("call order mismatch (-want +got):\n%s", diff)
	}
	if w.Name != "double" {
		t.Errorf("Wrap(...).Name = %q, want %q", w.Name, "double")
	}
}

func TestWrapSetsActionBeforeMiddleware(t *testing.T) {
	var seen string
	peek := func(next action.Step) action.Step {
		return func(ctx context.Context, ac *action.JobInfo, in any) (any, error) {
			seen = ac.Action
			return next(ctx, ac, in)
		}
	}
	w := action.Wrap(action.New("charge", func(context.Context, *action.JobInfo, int) (int, error) { return 0, nil }), peek)
	if _, err := w.Run(testContext(t), &action.JobInfo{Action: "before"}, 1); err != nil {
		t.Fatal(err)
	}
	if seen != "charge" {
		t.Errorf("middleware saw ac.Action = %q, want %q", seen, "charge")
	}
}

func TestWrapWrongOutputType(t *testing.T) {
	bad := func(next action.Step) action.Step {
		return func(ctx context.Context, ac *action.JobInfo, in any) (any, error) { return "not an int", nil }
	}
	w := action.Wrap(action.New("count", func(context.Context, *action.JobInfo, int) (int, error) { return 1, nil }), bad)
	_, err := w.Run(testContext(t), &action.JobInfo{}, 1)
	if want := `action "count": output is string, want int`; err == nil || err.Error() != want {
		t.Errorf("Run() error = %v, want %q", err, want)
	}
}

func TestWrapNilOutputIsZero(t *testing.T) {
	swallow := func(next action.Step) action.Step {
		return func(ctx context.Context, ac *action.JobInfo, in any) (any, error) {
			_, _ = next(ctx, ac, in)
			return nil, nil
		}
	}
	w := action.Wrap(action.New("p", func(context.Context, *action.JobInfo, int) (*int, error) { return nil, errors.New("x") }), swallow)
	got, err := w.Run(testContext(t), &action.JobInfo{}, 1)
	if got != nil || err != nil {
		t.Errorf("Run() = %v, %v, want nil, nil", got, err)
	}
}

func TestWrapNilRun(t *testing.T) {
	w := action.Wrap(action.Action[int, int]{Name: "empty"})
	_, err := w.Run(testContext(t), &action.JobInfo{}, 1)
	if err == nil || !strings.Contains(err.Error(), `action "empty" has no Run function`) {
		t.Errorf("Run() error = %v, want it to say the action has no Run function", err)
	}
}
