package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// hostSide is a host's handlers for the test worker's calls to the host,
// and what its HostBlock handler saw.
type hostSide struct {
	blocked chan struct{} // HostBlock started
	ended   chan error    // HostBlock's context ended, with this error
}

func newHostSide() *hostSide {
	return &hostSide{blocked: make(chan struct{}, 16), ended: make(chan error, 16)}
}

func (hs *hostSide) handlers() host.HandlerSet {
	return host.Handlers(
		host.Handle(testproto.HostAdd, func(ctx context.Context, n int) (int, error) { return n + 1, nil }),
		host.Handle(testproto.HostFail, func(ctx context.Context, n int) (string, error) {
			return "", faults.WithCode(fmt.Errorf("host refuses %d", n), "host-refuses")
		}),
		host.Handle(testproto.HostBlock, func(ctx context.Context, n int) (string, error) {
			hs.blocked <- struct{}{}
			<-ctx.Done()
			hs.ended <- ctx.Err()
			return "", ctx.Err()
		}),
		host.Handle(testproto.HostNest, func(ctx context.Context, n int) (string, error) {
			if n == 0 {
				return "h0", nil
			}
			r, err := host.Call(ctx, host.CallingWorker(ctx), testproto.Nest, n-1)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("h%d(%s)", n, r), nil
		}),
	)
}

// startCallHost starts the test worker with a host serving hs.
func startCallHost(t *testing.T, hs *hostSide) *host.Worker {
	t.Helper()
	cfg, _ := config(t)
	if hs != nil {
		cfg.Handlers = hs.handlers()
	}
	return start(t, cfg)
}

func TestCallHostFromHandler(t *testing.T) {
	w := startCallHost(t, newHostSide())
	for _, op := range []string{"add", "no-handler-ctx"} {
		got, err := host.Call(ctxT(t), w, testproto.CallHost, testproto.HostReq{Op: op, N: 41})
		if got != "42" || err != nil {
			t.Errorf("Call(CallHost %s 41) = %q, %v, want %q, nil", op, got, err, "42")
		}
	}
}

func TestCallHostErrors(t *testing.T) {
	w := startCallHost(t, newHostSide())
	// The host's handler fails: the worker gets the host's RemoteError and
	// returns it; it reaches the host's caller with its code intact.
	_, err := host.Call(ctxT(t), w, testproto.CallHost, testproto.HostReq{Op: "fail", N: 7})
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Code != "host-refuses" || re.Message != "host refuses 7" {
		t.Errorf("Call(CallHost fail) = %v, want the host's RemoteError with code host-refuses", err)
	}
	// A message the host does not serve.
	_, err = host.Call(ctxT(t), w, testproto.CallHost, testproto.HostReq{Op: "unknown"})
	const want = `host has no handler for message "host-unknown" (protocol version 1 serves: host-add, host-block, host-fail, host-nest)`
	if !errors.As(err, &re) || re.Code != shared.CodeUnknownMessage || re.Message != want {
		t.Errorf("Call(CallHost unknown) = %v, want a RemoteError with code %s and message %q", err, shared.CodeUnknownMessage, want)
	}
}

func TestCallHostWithoutHandlers(t *testing.T) {
	w := startCallHost(t, nil)
	_, err := host.Call(ctxT(t), w, testproto.CallHost, testproto.HostReq{Op: "add", N: 1})
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Code != shared.CodeUnknownMessage ||
		!strings.Contains(re.Message, `host has no handler for message "host-add": it serves no messages (register them in host.Config.Handlers)`) {
		t.Errorf("Call(CallHost add) on a host without handlers = %v, want a RemoteError with code %s saying the host serves no messages", err, shared.CodeUnknownMessage)
	}
}

func TestCallHostCancellation(t *testing.T) {
	hs := newHostSide()
	w := startCallHost(t, hs)

	t.Run("host cancels", func(t *testing.T) {
		// The host cancels its call; the worker's handler is cancelled, so
		// its call to the host is, and so the host's handler.
		ctx, cancel := context.WithCancel(ctxT(t))
		errc := make(chan error, 1)
		go func() {
			_, err := host.Call(ctx, w, testproto.CallHost, testproto.HostReq{Op: "block"})
			errc <- err
		}()
		<-hs.blocked
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Call(CallHost block) after cancel = %v, want context.Canceled", err)
		}
		if err := <-hs.ended; !errors.Is(err, context.Canceled) {
			t.Errorf("host handler's context ended with %v, want context.Canceled", err)
		}
	})
	t.Run("worker gives up", func(t *testing.T) {
		// The worker's call to the host passes its deadline: the host's
		// handler sees its context end with the same deadline.
		got, err := host.Call(ctxT(t), w, testproto.CallHost, testproto.HostReq{Op: "give-up", N: 50})
		if err != nil || !strings.Contains(got, "context deadline exceeded") {
			t.Errorf("Call(CallHost give-up) = %q, %v, want the worker to report a passed deadline", got, err)
		}
		<-hs.blocked
		if err := <-hs.ended; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("host handler's context ended with %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestCallHostNested(t *testing.T) {
	w := startCallHost(t, newHostSide())
	// host -> worker -> host -> worker -> host -> worker: five calls deep,
	// each waiting for the next on the same connection.
	got, err := host.Call(ctxT(t), w, testproto.Nest, 5)
	if want := "w5(h4(w3(h2(w1(h0)))))"; got != want || err != nil {
		t.Fatalf("Call(Nest 5) = %q, %v, want %q, nil", got, err, want)
	}
	// Many at once: every level of every chain holds a handler goroutine
	// on one side while the next runs on the other.
	const chains = 64
	var wg sync.WaitGroup
	errs := make(chan error, chains)
	for i := range chains {
		wg.Go(func() {
			n := 3 + i%3
			got, err := host.Call(ctxT(t), w, testproto.Nest, n)
			if err == nil && !strings.HasPrefix(got, fmt.Sprintf("w%d(h%d(", n, n-1)) {
				err = fmt.Errorf("Call(Nest %d) = %q", n, got)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// The host's middleware sees the worker's calls to the host as a worker's
// middleware sees the host's calls: the request Incoming, the reply
// Outgoing, inside the host's own call to the worker.
func TestCallHostMiddleware(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	cfg, _ := config(t)
	cfg.Handlers = newHostSide().handlers()
	cfg.Middleware = []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%v %v %s", dir, msg.Kind, msg.Type))
		return nil
	}}
	w := start(t, cfg)
	if _, err := host.Call(ctxT(t), w, testproto.CallHost, testproto.HostReq{Op: "add", N: 1}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		fmt.Sprintf("%v %v call-host", shared.Outgoing, shared.KindRequest),
		fmt.Sprintf("%v %v host-add", shared.Incoming, shared.KindRequest),
		fmt.Sprintf("%v %v host-add", shared.Outgoing, shared.KindResult),
		fmt.Sprintf("%v %v call-host", shared.Incoming, shared.KindResult),
	}
	if strings.Join(seen, "; ") != strings.Join(want, "; ") {
		t.Errorf("host middleware saw %q, want %q", seen, want)
	}
}
