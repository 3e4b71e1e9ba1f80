package action

import (
	"context"
	"fmt"
	"reflect"
)

// Pipeline runs stages in order, each stage's output the next stage's input,
// typed at its ends: it takes In and produces Out. Build it with
// NewPipeline; the whole chain, middleware included, is built there once.
// A Pipeline is safe for concurrent use by jobs that each have their own
// JobInfo.
type Pipeline[In, Out any] struct {
	name string
	step Step
}

// NewPipeline returns the pipeline called name that runs stages in order,
// wrapped in mws (the first outermost, as in Wrap), all inside WithStatus.
//
// Go cannot type a chain of differently typed actions, so the types are
// checked here, once: In must be assignable to the first stage's input,
// each stage's output to the next stage's input, and the last stage's output
// to Out. A mismatch, an empty pipeline or an action without a Run function
// is an error naming the stage.
//
// A stage that fails stops the pipeline; its error is wrapped as
// `action "name": ...`. The context is checked between stages.
func NewPipeline[In, Out any](name string, stages []Stage, mws ...StepMiddleware) (*Pipeline[In, Out], error) {
	if len(stages) == 0 {
		return nil, fmt.Errorf("pipeline %q: no stages", name)
	}
	infos := make([]stageInfo, len(stages))
	prev, prevDesc := reflect.TypeFor[In](), "the pipeline takes"
	for i, s := range stages {
		if s == nil {
			return nil, fmt.Errorf("pipeline %q: stage %d is nil", name, i)
		}
		info := s.stage()
		if info.step == nil {
			return nil, fmt.Errorf("pipeline %q: stage %d (%q) has no Run function", name, i, info.name)
		}
		if !prev.AssignableTo(info.in) {
			return nil, fmt.Errorf("pipeline %q: stage %d (%q) takes %v, but %s %v", name, i, info.name, info.in, prevDesc, prev)
		}
		infos[i] = info
		prev, prevDesc = info.out, fmt.Sprintf("stage %d (%q) returns", i, info.name)
	}
	if out := reflect.TypeFor[Out](); !prev.AssignableTo(out) {
		return nil, fmt.Errorf("pipeline %q: returns %v, but %s %v", name, out, prevDesc, prev)
	}
	s := chain(sequence(infos), mws)
	s = WithStatus()(s)
	return &Pipeline[In, Out]{name: name, step: s}, nil
}

// sequence returns the Step that runs infos in order.
func sequence(infos []stageInfo) Step {
	return func(ctx context.Context, ac *JobInfo, in any) (any, error) {
		cur := in
		for _, s := range infos {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("before action %q: %w", s.name, err)
			}
			out, err := s.step(ctx, ac, cur)
			if err != nil {
				return nil, fmt.Errorf("action %q: %w", s.name, err)
			}
			cur = out
		}
		return cur, nil
	}
}

// Name returns the pipeline's name.
func (p *Pipeline[In, Out]) Name() string { return p.name }

// Run runs the pipeline for one job. ac must not be shared with another job
// running at the same time; nil means a fresh JobInfo. Run sets ac.Attempt
// to 1 if it is 0 and ac.Action to the pipeline's name, and publishes status
// events when ac.Status is set (see WithStatus).
func (p *Pipeline[In, Out]) Run(ctx context.Context, ac *JobInfo, in In) (Out, error) {
	if ac == nil {
		ac = &JobInfo{}
	}
	if ac.Attempt == 0 {
		ac.Attempt = 1
	}
	ac.Action = p.name
	out, err := p.step(ctx, ac, in)
	typed, cerr := cast[Out](out, p.name, "output")
	if err == nil {
		err = cerr
	}
	return typed, err
}

func (p *Pipeline[In, Out]) stage() stageInfo {
	return stageInfo{name: p.name, in: reflect.TypeFor[In](), out: reflect.TypeFor[Out](), step: p.Action().step()}
}

// Action returns the pipeline as an action, to nest it in another pipeline
// or Wrap it. A nested pipeline publishes no status events of its own.
func (p *Pipeline[In, Out]) Action() Action[In, Out] {
	return Action[In, Out]{Name: p.name, Run: p.Run}
}
