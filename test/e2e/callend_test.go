package e2e

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// endRecorder is host middleware that records, for each transaction id,
// what it saw: "out" for the request, then "in:KIND" for the call's end.
type endRecorder struct {
	mu   sync.Mutex
	seen map[string][]string
	ends map[string]any // the payload of each call's end
}

func newEndRecorder() *endRecorder {
	return &endRecorder{seen: make(map[string][]string), ends: make(map[string]any)}
}

func (r *endRecorder) middleware(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir == shared.Outgoing {
		r.seen[msg.TxID] = append(r.seen[msg.TxID], "out")
		return nil
	}
	r.seen[msg.TxID] = append(r.seen[msg.TxID], "in:"+msg.Kind.String())
	r.ends[msg.TxID] = msg.Payload
	return nil
}

// only returns the one call r saw, its events and the payload of its end.
func (r *endRecorder) only(t *testing.T) ([]string, any) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) != 1 {
		t.Fatalf("middleware saw %d calls (%v), want 1", len(r.seen), r.seen)
	}
	for id, seen := range r.seen {
		return seen, r.ends[id]
	}
	return nil, nil
}

// TestIncomingSeesEveryCallEndOnce checks that host middleware sees the end
// of every call whose request it saw exactly once, with the worker's
// *shared.RemoteError or the local error as the payload of a failed call,
// and that the caller still gets the same typed error.
func TestIncomingSeesEveryCallEndOnce(t *testing.T) {
	tests := []struct {
		name     string
		call     func(t *testing.T, w *host.Worker, started <-chan string) error
		wantKind shared.Kind
		check    func(payload any, err error) bool // the end's payload and the caller's error
		want     string
	}{
		{
			name: "result",
			call: func(t *testing.T, w *host.Worker, _ <-chan string) error {
				_, err := host.Call(ctxT(t), w, testproto.Ping, "x")
				return err
			},
			wantKind: shared.KindResult,
			check:    func(p any, err error) bool { return p == "pong:x" && err == nil },
			want:     `payload "pong:x", no error`,
		},
		{
			name: "worker error",
			call: func(t *testing.T, w *host.Worker, _ <-chan string) error {
				_, err := host.Call(ctxT(t), w, testproto.Fail, testproto.FailReq{Message: "no stock", Class: "business"})
				return err
			},
			wantKind: shared.KindError,
			check: func(p any, err error) bool {
				re, ok := p.(*shared.RemoteError)
				var got *shared.RemoteError
				return ok && re.Message == "no stock" && errors.As(err, &got) && got == re
			},
			want: "the worker's *shared.RemoteError, the caller's too",
		},
		{
			name: "deadline",
			call: func(t *testing.T, w *host.Worker, _ <-chan string) error {
				_, err := host.Call(context.Background(), w, testproto.Sleep.WithTimeout(50*time.Millisecond), 60_000)
				return err
			},
			wantKind: shared.KindError,
			check: func(p any, err error) bool {
				pe, _ := p.(error)
				return errors.Is(pe, context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded)
			},
			want: "context.DeadlineExceeded, for the caller too",
		},
		{
			name: "cancel without deadline",
			call: func(t *testing.T, w *host.Worker, started <-chan string) error {
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					// Cancel once the handler runs (bounded: the call
					// then ends anyway, and the check says what it got).
					select {
					case <-started:
					case <-time.After(20 * time.Second):
					}
					cancel()
				}()
				_, err := host.Call(ctx, w, testproto.Sleep, 60_000)
				cancel()
				return err
			},
			wantKind: shared.KindError,
			check: func(p any, err error) bool {
				pe, _ := p.(error)
				return errors.Is(pe, context.Canceled) && errors.Is(err, context.Canceled)
			},
			want: "context.Canceled, for the caller too",
		},
		{
			name: "worker killed mid-call",
			call: func(t *testing.T, w *host.Worker, _ <-chan string) error {
				_, err := host.Call(context.Background(), w, testproto.Kill, "")
				return err
			},
			wantKind: shared.KindError,
			check: func(p any, err error) bool {
				pe, _ := p.(error)
				var ee, got *host.ExitError
				return errors.As(pe, &ee) && errors.As(err, &got) && got == ee
			},
			want: "an *host.ExitError, the caller's too",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newEndRecorder()
			cfg, _ := config(t)
			started := callsStarted(&cfg, 1)
			cfg.Middleware = []shared.Middleware{rec.middleware}
			w := start(t, cfg)
			err := tt.call(t, w, started)
			seen, payload := rec.only(t)
			if diff := cmp.Diff([]string{"out", "in:" + tt.wantKind.String()}, seen); diff != "" {
				t.Errorf("middleware saw (-want +got):\n%s", diff)
			}
			if !tt.check(payload, err) {
				t.Errorf("end payload %#v, Call error %v; want %s", payload, err, tt.want)
			}
		})
	}
}

// TestIncomingAfterOutgoingFailure checks that when an outgoing middleware
// refuses a request, the middleware before it and the failing one see the
// call's end, with the refusal as payload, and those after it see nothing.
func TestIncomingAfterOutgoingFailure(t *testing.T) {
	recs := []*endRecorder{newEndRecorder(), newEndRecorder(), newEndRecorder()}
	refuse := func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		recs[1].middleware(ctx, dir, msg)
		if dir == shared.Outgoing {
			return errors.New("policy says no")
		}
		return nil
	}
	cfg, _ := config(t)
	cfg.Middleware = []shared.Middleware{recs[0].middleware, refuse, recs[2].middleware}
	w := start(t, cfg)
	_, err := host.Call(ctxT(t), w, testproto.Ping, "x")
	var me *shared.MiddlewareError
	if !errors.As(err, &me) || me.Index != 1 || me.Direction != shared.Outgoing {
		t.Fatalf("Call = %v, want a MiddlewareError from middleware 1, outgoing", err)
	}
	for i, rec := range recs[:2] {
		seen, payload := rec.only(t)
		if diff := cmp.Diff([]string{"out", "in:" + shared.KindError.String()}, seen); diff != "" {
			t.Errorf("middleware %d saw (-want +got):\n%s", i, diff)
		}
		var got *shared.MiddlewareError
		if pe, _ := payload.(error); !errors.As(pe, &got) || got != me {
			t.Errorf("middleware %d: end payload %#v, want the outgoing MiddlewareError", i, payload)
		}
	}
	recs[2].mu.Lock()
	defer recs[2].mu.Unlock()
	if len(recs[2].seen) != 0 {
		t.Errorf("middleware 2, after the one that refused, saw %v, want nothing", recs[2].seen)
	}
}

// TestIncomingErrorKeepsLocalError checks that an incoming middleware that
// fails the end of a failed call adds its error to the call's: the caller
// still matches the call's own typed error, and the MiddlewareError.
func TestIncomingErrorKeepsLocalError(t *testing.T) {
	cfg, _ := config(t)
	cfg.Middleware = []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir == shared.Incoming {
			return errors.New("audit failed")
		}
		return nil
	}}
	w := start(t, cfg)
	_, err := host.Call(context.Background(), w, testproto.Sleep.WithTimeout(50*time.Millisecond), 60_000)
	var me *shared.MiddlewareError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &me) || me.Direction != shared.Incoming {
		t.Errorf("Call = %v, want an error matching context.DeadlineExceeded and an incoming MiddlewareError", err)
	}
}
