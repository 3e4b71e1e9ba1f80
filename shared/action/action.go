package action

import (
	"context"
	"fmt"
	"reflect"
)

// Func is the typed body of an action.
type Func[In, Out any] func(ctx context.Context, ac *JobInfo, in In) (Out, error)

// Action is a named, typed step of a job: it takes In and produces Out.
type Action[In, Out any] struct {
	Name string
	Run  Func[In, Out]
}

// New returns the action called name that runs run.
func New[In, Out any](name string, run Func[In, Out]) Action[In, Out] {
	return Action[In, Out]{Name: name, Run: run}
}

// Step is an action with its types erased, as middleware sees it. Inputs and
// outputs travel as any.
type Step func(ctx context.Context, ac *JobInfo, in any) (any, error)

// StepMiddleware wraps a Step with behaviour of its own (retry, error
// handling, status, ...). It is called once, when the chain is built, and
// returns the Step that runs on every call. (shared.Middleware is the other
// kind: it sees every message a Worker sends or receives.)
type StepMiddleware func(next Step) Step

// Stage is one stage of a Pipeline: an Action or a *Pipeline. It is sealed;
// only this package implements it.
type Stage interface {
	stage() stageInfo
}

type stageInfo struct {
	name    string
	in, out reflect.Type
	step    Step // nil if the action has no Run function
}

var (
	_ Stage = Action[int, int]{}
	_ Stage = (*Pipeline[int, int])(nil)
)

func (a Action[In, Out]) stage() stageInfo {
	info := stageInfo{name: a.Name, in: reflect.TypeFor[In](), out: reflect.TypeFor[Out]()}
	if a.Run != nil {
		info.step = a.step()
	}
	return info
}

// step erases a: the Step sets ac.Action and runs a.Run.
func (a Action[In, Out]) step() Step {
	name, run := a.Name, a.Run
	return func(ctx context.Context, ac *JobInfo, in any) (any, error) {
		ac.Action = name
		if run == nil {
			return nil, fmt.Errorf("action %q has no Run function", name)
		}
		typed, err := cast[In](in, name, "input")
		if err != nil {
			return nil, err
		}
		return run(ctx, ac, typed)
	}
}

// cast converts an erased value back to T. nil becomes T's zero value.
func cast[T any](v any, name, what string) (T, error) {
	if v == nil {
		var zero T
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return t, fmt.Errorf("action %q: %s is %T, want %v", name, what, v, reflect.TypeFor[T]())
	}
	return t, nil
}

// Wrap returns a with middleware applied. The first middleware is the
// outermost: Wrap(a, m1, m2) runs m1, which calls m2, which calls a. So
// m1 sees the call first and the result last. The chain is built here, once.
//
// The recommended order, outermost first, is
//
//	Wrap(a, WithDeadLetter(dl), WithErrorHandling(cfg), WithRetry(p), WithCircuitBreaker(b))
//
// so the dead-letter sink records only final failures (after retries and
// after OnError had its say, panics included), error handling logs and
// counts each failure of the whole retried call once, retries happen
// inside it, and the breaker sees, and can cut short, every single attempt.
//
// The returned action sets ac.Action to a.Name before the outermost
// middleware runs.
func Wrap[In, Out any](a Action[In, Out], mws ...StepMiddleware) Action[In, Out] {
	name := a.Name
	s := chain(a.step(), mws)
	return Action[In, Out]{Name: name, Run: func(ctx context.Context, ac *JobInfo, in In) (Out, error) {
		ac.Action = name
		out, err := s(ctx, ac, in)
		typed, cerr := cast[Out](out, name, "output")
		if err == nil {
			err = cerr
		}
		return typed, err
	}}
}

// chain applies mws to s, the first outermost. nil middleware is skipped.
func chain(s Step, mws []StepMiddleware) Step {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			s = mws[i](s)
		}
	}
	return s
}
