package action_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

var (
	parse = action.New("parse", func(_ context.Context, _ *action.JobInfo, s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, faults.New(faults.Permanent, err)
		}
		return n, nil
	})
	double = action.New("double", func(_ context.Context, _ *action.JobInfo, n int) (int, error) { return 2 * n, nil })
	format = action.New("format", func(_ context.Context, _ *action.JobInfo, n int) (string, error) { return fmt.Sprintf("<%d>", n), nil })
)

func TestPipelineRunsInOrder(t *testing.T) {
	var seen []string
	record := func(name string) action.Action[int, int] {
		return action.New(name, func(_ context.Context, ac *action.JobInfo, n int) (int, error) {
			seen = append(seen, fmt.Sprintf("%s(%d) as %q", name, n, ac.Action))
			return n + 1, nil
		})
	}
	p, err := action.NewPipeline[string, string]("count", []action.Stage{parse, record("a"), record("b"), double, format})
	if err != nil {
		t.Fatalf("NewPipeline() error = %v", err)
	}
	got, err := p.Run(testContext(t), &action.JobInfo{}, "5")
	if got != "<14>" || err != nil {
		t.Errorf("Run(%q) = %q, %v, want %q, nil", "5", got, err, "<14>")
	}
	want := []string{`a(5) as "a"`, `b(6) as "b"`}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("stage calls mismatch (-want +got):\n%s", diff)
	}
	if p.Name() != "count" {
		t.Errorf("Name() = %q, want %q", p.Name(), "count")
	}
}

func TestPipelineStopsAtFailure(t *testing.T) {
	called := false
	after := action.New("after", func(_ context.Context, _ *action.JobInfo, n int) (int, error) { called = true; return n, nil })
	p, err := action.NewPipeline[string, int]("count", []action.Stage{parse, after})
	if err != nil {
		t.Fatal(err)
	}
	ac := &action.JobInfo{}
	_, err = p.Run(testContext(t), ac, "x")
	if called {
		t.Errorf("the stage after a failure ran")
	}
	if want := `action "parse": strconv.Atoi: parsing "x": invalid syntax`; err == nil || err.Error() != want {
		t.Errorf("Run(%q) error = %v, want %q", "x", err, want)
	}
	if !errors.Is(err, strconv.ErrSyntax) || !faults.IsPermanent(err) {
		t.Errorf("Run(%q) error = %v, want errors.Is strconv.ErrSyntax and class permanent", "x", err)
	}
	if ac.Action != "parse" {
		t.Errorf("after the failure ac.Action = %q, want the failed action %q", ac.Action, "parse")
	}
}

func TestPipelineChecksContextBetweenStages(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	stop := action.New("stop", func(_ context.Context, _ *action.JobInfo, n int) (int, error) { cancel(); return n, nil })
	p, err := action.NewPipeline[int, int]("p", []action.Stage{stop, double})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(ctx, nil, 1)
	if want := `before action "double": context canceled`; err == nil || err.Error() != want {
		t.Errorf("Run() error = %v, want %q", err, want)
	}
}

func TestPipelineDefaultsAttempt(t *testing.T) {
	var got int
	peek := action.New("peek", func(_ context.Context, ac *action.JobInfo, n int) (int, error) { got = ac.Attempt; return n, nil })
	p, err := action.NewPipeline[int, int]("p", []action.Stage{peek})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(testContext(t), &action.JobInfo{}, 1); err != nil || got != 1 {
		t.Errorf("Run() with Attempt 0: action saw Attempt %d (err %v), want 1", got, err)
	}
	if _, err := p.Run(testContext(t), &action.JobInfo{Attempt: 3}, 1); err != nil || got != 3 {
		t.Errorf("Run() with Attempt 3: action saw Attempt %d (err %v), want 3", got, err)
	}
}

func TestPipelineMiddlewareWrapsStages(t *testing.T) {
	var trace []string
	inner := action.New("inner", func(_ context.Context, _ *action.JobInfo, n int) (int, error) {
		trace = append(trace, "inner")
		return n, nil
	})
	p, err := action.NewPipeline[int, int]("p", []action.Stage{inner, inner}, tracing("m1", &trace), tracing("m2", &trace))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(testContext(t), nil, 1); err != nil {
		t.Fatal(err)
	}
	want := []string{"m1>", "m2>", "inner", "inner", "<m2", "<m1"}
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("call order mismatch (-want +got):\n%s", diff)
	}
}

func TestPipelineNested(t *testing.T) {
	inner, err := action.NewPipeline[int, int]("inner", []action.Stage{double, double})
	if err != nil {
		t.Fatal(err)
	}
	outer, err := action.NewPipeline[string, string]("outer", []action.Stage{parse, inner, action.Wrap(inner.Action()), format})
	if err != nil {
		t.Fatal(err)
	}
	got, err := outer.Run(testContext(t), nil, "1")
	if got != "<16>" || err != nil {
		t.Errorf("Run(%q) = %q, %v, want %q, nil", "1", got, err, "<16>")
	}
}

func TestPipelineInterfaceTypes(t *testing.T) {
	open := action.New("open", func(_ context.Context, _ *action.JobInfo, s string) (*strings.Reader, error) {
		return strings.NewReader(s), nil
	})
	read := action.New("read", func(_ context.Context, _ *action.JobInfo, r io.Reader) (string, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
	// *strings.Reader is assignable to io.Reader, and string to any.
	p, err := action.NewPipeline[string, any]("io", []action.Stage{open, read})
	if err != nil {
		t.Fatalf("NewPipeline() error = %v", err)
	}
	got, err := p.Run(testContext(t), nil, "abc")
	if got != "abc" || err != nil {
		t.Errorf("Run(%q) = %v, %v, want %q, nil", "abc", got, err, "abc")
	}
}

func TestNewPipelineErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func() error
		want  string
	}{
		{"no stages", func() error {
			_, err := action.NewPipeline[int, int]("p", nil)
			return err
		}, `pipeline "p": no stages`},
		{"nil stage", func() error {
			_, err := action.NewPipeline[int, int]("p", []action.Stage{double, nil})
			return err
		}, `pipeline "p": stage 1 is nil`},
		{"no Run", func() error {
			_, err := action.NewPipeline[int, int]("p", []action.Stage{action.Action[int, int]{Name: "ghost"}})
			return err
		}, `pipeline "p": stage 0 ("ghost") has no Run function`},
		{"input mismatch", func() error {
			_, err := action.NewPipeline[int, string]("p", []action.Stage{parse, format})
			return err
		}, `pipeline "p": stage 0 ("parse") takes string, but the pipeline takes int`},
		{"stage mismatch", func() error {
			_, err := action.NewPipeline[string, string]("p", []action.Stage{parse, format, double})
			return err
		}, `pipeline "p": stage 2 ("double") takes int, but stage 1 ("format") returns string`},
		{"output mismatch", func() error {
			_, err := action.NewPipeline[string, string]("p", []action.Stage{parse, double})
			return err
		}, `pipeline "p": returns string, but stage 1 ("double") returns int`},
		{"interface to concrete", func() error {
			toAny := action.New("any", func(_ context.Context, _ *action.JobInfo, n int) (any, error) { return n, nil })
			_, err := action.NewPipeline[int, int]("p", []action.Stage{toAny, double})
			return err
		}, `pipeline "p": stage 1 ("double") takes int, but stage 0 ("any") returns interface {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewPipeline() error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPipelineConcurrentJobs(t *testing.T) {
	counters := &action.Counters{}
	p, err := action.NewPipeline[string, string]("count", []action.Stage{parse, double, format},
		action.WithErrorHandling(action.ErrorHandlingConfig{Counters: counters}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := &recorder{}
			in := strconv.Itoa(i)
			if i%10 == 0 {
				in = "bad"
			}
			got, err := p.Run(ctx, &action.JobInfo{JobID: in, Status: rec}, in)
			if i%10 == 0 {
				if err == nil {
					t.Errorf("Run(%q) error = nil, want a parse error", in)
				}
				return
			}
			if want := fmt.Sprintf("<%d>", 2*i); got != want || err != nil {
				t.Errorf("Run(%q) = %q, %v, want %q, nil", in, got, err, want)
			}
			if n := len(rec.Events()); n != 2 {
				t.Errorf("job %s published %d events, want 2", in, n)
			}
		}()
	}
	wg.Wait()
	if got := counters.Snapshot().Errors[faults.Permanent]; got != 5 {
		t.Errorf("permanent errors counted = %d, want 5", got)
	}
}
