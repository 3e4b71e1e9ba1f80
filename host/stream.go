package host

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Errors of streams a caller can match with errors.Is.
var (
	// ErrStreamUnsupported: the worker closed a stream without answering
	// it: it was built with a version of the library without streams.
	ErrStreamUnsupported = peer.ErrStreamUnsupported
	// ErrStreamConsumed: the sequence Stream returned was ranged over a
	// second time. Each call of Stream is one streaming call.
	ErrStreamConsumed = errors.New("stream already consumed")
	// ErrStreamBroken: the worker ended a stream without its end message,
	// while the connection works.
	ErrStreamBroken = peer.ErrStreamBroken
)

// Stream sends req to the worker as the stream s and returns the items the
// worker's handler (plugin.HandleStream) sends, in order, as a sequence to
// range over once:
//
//	for item, err := range host.Stream(ctx, w, Lines, req) {
//		if err != nil {
//			return err // the stream failed; it is the last value
//		}
//		use(item)
//	}
//
// The request goes out when the range starts. Every value but the last has
// a nil error. When the handler returns nil the range ends after the last
// item; when the stream fails, the last value is the zero Item and the
// error: a *shared.RemoteError for the handler's error, an *ExitError when
// the worker crashed, ErrConnectionLost, ErrWorkerClosed, the context's
// error when ctx ended (ctx's deadline is the handler's), a
// *shared.FrameTooLargeError for an item over the host's MaxFrameSize or
// MaxRawSize, ErrStreamUnsupported for a worker without streams: the
// errors of Call. A stream has no timeout but ctx's (CallTimeout and
// message timeouts do not apply).
//
// Stopping the range early (break, return) or ctx ending cancels the
// stream: the worker's handler context is cancelled at once and its sends
// fail. Flow control is the stream's own: a handler that produces faster
// than the loop consumes is slowed down, and neither process holds more
// than a bounded amount of the stream (2 MiB not yet acknowledged on the
// host; about 1 MiB queued on the worker), whatever its length. Each
// stream has its own yamux stream, so a slow stream holds up no call or
// other stream. An item of type []byte travels raw and is the consumer's
// to keep.
//
// Events the handler emitted before it returned have been delivered to
// OnEvent and Status when the range ends, as for Call (or the last error
// matches ErrEventsPending). Outgoing middleware sees the request; incoming
// middleware sees the stream's end once (a result without payload, or the
// error), also after an early stop; items pass no middleware. Shutdown
// waits for the streams under way.
//
// t is a *Worker or a *Pool. On a pool the stream runs on the least-loaded
// ready worker (waiting in the pool's queue like a call), which counts it
// as in flight until the range ends. A stream is never retried: when its
// worker crashes mid-stream the range ends with the *ExitError, and the
// pool replaces the worker.
func Stream[Req, Item any](ctx context.Context, t Target, s shared.Stream[Req, Item], req Req) iter.Seq2[Item, error] {
	var used atomic.Bool
	return func(yield func(Item, error) bool) {
		var zero Item
		if used.Swap(true) {
			yield(zero, fmt.Errorf("stream %q on %s: %w", s.Name(), targetName(t), ErrStreamConsumed))
			return
		}
		w, done, err := streamWorker(ctx, t, s.Name())
		if err != nil {
			yield(zero, fmt.Errorf("stream %q on %s: %w", s.Name(), targetName(t), err))
			return
		}
		is, err := w.caller.Stream(ctx, s.Name(), req)
		finished := false
		defer func() {
			if !finished { // the loop's body panicked: end the stream all the same
				done(is.Finish(nil, true))
			}
		}()
		for err == nil {
			var item Item
			var more bool
			if more, err = is.Next(&item); err != nil || !more {
				break
			}
			if !yield(item, nil) {
				finished = true
				done(is.Finish(nil, true))
				return
			}
		}
		finished = true
		err = is.Finish(err, false)
		if err != nil {
			err = fmt.Errorf("stream %q on worker %q: %w", s.Name(), w.cfg.Name, err)
		}
		done(err)
		if err != nil {
			yield(zero, err)
		}
	}
}

// streamWorker returns the worker a stream on t runs on, and the function
// to call with the stream's error when it ends. On a pool it is the
// least-loaded ready worker, with the stream counted in its load until
// then.
func streamWorker(ctx context.Context, t Target, method string) (*Worker, func(error), error) {
	p, ok := t.(*Pool)
	if !ok {
		return t.(*Worker), func(error) {}, nil
	}
	start := time.Now()
	mem, err := p.acquire(ctx, nil)
	if err != nil {
		p.count(ctx, method, start, err)
		return nil, nil, err
	}
	return mem.w, func(err error) {
		p.release(mem, err)
		p.count(ctx, method, start, err)
	}, nil
}

// targetName names t in errors: `worker "resize"`, `pool "resize"`.
func targetName(t Target) string {
	if p, ok := t.(*Pool); ok {
		return fmt.Sprintf("pool %q", p.name)
	}
	return fmt.Sprintf("worker %q", t.(*Worker).cfg.Name)
}
