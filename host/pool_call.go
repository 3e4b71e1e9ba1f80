package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Target is what Call calls: a *Worker or a *Pool.
type Target interface {
	target()
}

func (*Worker) target() {}
func (*Pool) target()   {}

var (
	_ Target = (*Worker)(nil)
	_ Target = (*Pool)(nil)
)

// poolCall runs one call on a pool: on the least-loaded ready worker, and
// again on another one when the worker dies under it and m allows crash
// retries (shared.Message.WithCrashRetry).
func poolCall[Req, Res any](ctx context.Context, p *Pool, m shared.Message[Req, Res], req Req) (Res, error) {
	// The call's deadline bounds its wait in the queue too.
	timeout, ok := m.Timeout()
	if !ok {
		timeout = p.cfg.Worker.CallTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	var exclude *member
	var died error // the crash the call was retried after
	for attempt := 0; ; attempt++ {
		mem, err := p.acquire(ctx, exclude)
		if err != nil {
			p.count(ctx, m.Name(), start, err)
			var zero Res
			return zero, fmt.Errorf("call %q on pool %q: %w", m.Name(), p.name, err)
		}
		res, err := Call(ctx, mem.w, m, req)
		p.release(mem, err)
		if err != nil && attempt < m.CrashRetries() && ctx.Err() == nil && workerDied(err) {
			p.ctr.crashRetries.Add(1)
			exclude, died = mem, err
			continue
		}
		p.count(ctx, m.Name(), start, err)
		if err != nil && died != nil {
			// errors.As finds the last attempt's error first.
			err = fmt.Errorf("%w (retried %d time(s) after the worker died: %w)", err, attempt, died)
		}
		return res, err
	}
}

// workerDied reports whether a call failed because its worker died under
// it (its process exited, or its connection broke).
func workerDied(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) || errors.Is(err, ErrWorkerTerminated) || errors.Is(err, ErrConnectionLost)
}

// count counts a finished call of method, started at start, by its
// outcome, and records its duration.
func (p *Pool) count(ctx context.Context, method string, start time.Time, err error) {
	i := outcomeOf(err)
	p.ctr.calls[i].Add(1)
	p.met.call(ctx, method, i, time.Since(start))
}

// outcomeOf returns the index in outcomes of a call that ended with err.
func outcomeOf(err error) int {
	i := 0 // OutcomeOK
	var re *shared.RemoteError
	switch {
	case err == nil:
	case errors.Is(err, ErrPoolQueueFull):
		i = 3
	case errors.Is(err, ErrPoolFailed):
		i = 4
	case errors.Is(err, ErrPoolClosed):
		i = 5
	case workerDied(err):
		i = 2
	case errors.As(err, &re):
		i = 1
	case errors.Is(err, context.Canceled):
		i = 6
	case errors.Is(err, context.DeadlineExceeded):
		i = 7
	default:
		i = 8
	}
	return i
}
