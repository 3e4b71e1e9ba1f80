package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrGroupClosed: the Group was closed; it starts and attaches no more
// workers.
var ErrGroupClosed = errors.New("worker group closed")

// Group closes, on one Close, every worker started or attached through it:
// go-plugin's CleanupClients, without its package-level list, so each test
// or subsystem has its own and nothing leaks from one to the next.
//
//	g := host.NewGroup()
//	defer g.Close()
//	w, err := g.Start(ctx, cfg)
//
// A Group is safe for concurrent use. Close cancels starts under way (they
// fail with ErrGroupClosed), closes every worker concurrently, and returns
// when all of them are closed, with their errors joined. It is idempotent.
// A worker closed on its own stays in the group until its process has
// exited; closing it again is harmless (Worker.Close is idempotent).
type Group struct {
	ctx    context.Context // cancelled by Close: ends starts under way
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	workers  []*Worker
	closed   bool
	starting sync.WaitGroup // Start and Attach calls under way

	closeOnce sync.Once
	closeErr  error
}

// NewGroup returns an empty Group.
func NewGroup() *Group {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Group{ctx: ctx, cancel: cancel}
}

// Start starts a worker as the package-level Start does and adds it to the
// group. After Close it returns ErrGroupClosed.
func (g *Group) Start(ctx context.Context, cfg Config) (*Worker, error) {
	return g.add(ctx, func(ctx context.Context) (*Worker, error) { return Start(ctx, cfg) })
}

// Attach attaches a worker as the package-level Attach does and adds it to
// the group. After Close it returns ErrGroupClosed.
func (g *Group) Attach(ctx context.Context, rc ReattachConfig, cfg Config) (*Worker, error) {
	return g.add(ctx, func(ctx context.Context) (*Worker, error) { return Attach(ctx, rc, cfg) })
}

func (g *Group) add(ctx context.Context, start func(context.Context) (*Worker, error)) (*Worker, error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, ErrGroupClosed
	}
	g.starting.Add(1)
	g.mu.Unlock()
	defer g.starting.Done()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(g.ctx, func() { cancel(ErrGroupClosed) })
	defer stop()

	w, err := start(ctx)
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrGroupClosed) && !errors.Is(err, ErrGroupClosed) {
			err = errors.Join(ErrGroupClosed, err)
		}
		return nil, err
	}
	g.mu.Lock()
	if g.closed {
		// Close ran while this worker started: it is not in the list Close
		// took, so close it here, before Close returns (Close waits for
		// g.starting).
		g.mu.Unlock()
		w.Close()
		return nil, ErrGroupClosed
	}
	g.workers = slices.DeleteFunc(g.workers, exited)
	g.workers = append(g.workers, w)
	g.mu.Unlock()
	return w, nil
}

// exited reports a worker this host started whose process has ended.
func exited(w *Worker) bool {
	ch := w.Exited()
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Workers returns the group's workers, in the order they were added,
// leaving out those whose process has exited. After Close it returns nil.
func (g *Group) Workers() []*Worker {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.workers = slices.DeleteFunc(g.workers, exited)
	return slices.Clone(g.workers)
}

// Close closes every worker of the group at once (each as Worker.Close:
// ask, wait GracePeriod, kill the process group) and cancels starts under
// way. It returns when all of them have ended, with the errors of those
// that failed to close joined. Later calls return the first result.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		ws := g.workers
		g.workers = nil
		g.mu.Unlock()
		g.cancel(ErrGroupClosed)

		errs := make([]error, len(ws))
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Go(func() {
				if err := w.Close(); err != nil {
					errs[i] = fmt.Errorf("close worker %q (pid %d): %w", w.Name(), w.PID(), err)
				}
			})
		}
		wg.Wait()
		g.starting.Wait()
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}
