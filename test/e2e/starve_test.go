//go:build unix

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// stopFor is how long TestStoppedWorkerLosesNoCalls keeps the worker
// stopped: longer than yamux's default ConnectionWriteTimeout (10 s), the
// timeout that used to fail every call in flight. IW_STOP_FOR changes it.
func stopFor(t *testing.T) time.Duration {
	if d, err := time.ParseDuration(os.Getenv("IW_STOP_FOR")); err == nil {
		return d
	}
	return 11 * time.Second
}

// TestStoppedWorkerLosesNoCalls starves the worker completely (SIGSTOP)
// while calls are in flight, payloads large enough to fill the socket and
// the stream windows among them, then resumes it (SIGCONT). A slow worker
// is not a dead one: every call completes with its result, and the
// connection stays up. Calls whose own deadline passes while the worker
// is stopped fail alone, with their deadline, without waiting for the
// worker.
func TestStoppedWorkerLosesNoCalls(t *testing.T) {
	w, _ := startArgs(t)
	ctx := ctxT(t)
	if _, err := host.Call(ctx, w, testproto.Ping, "warm"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(w.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(w.PID(), syscall.SIGCONT)
		}
	}
	defer resume()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const calls = 200
	var wg sync.WaitGroup
	errs := make([]error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0: // large: the bulk stream
				in := bytes.Repeat([]byte{byte(i)}, 256<<10+i)
				out, err := host.Call(ctx, w, testproto.Echo, in)
				if err == nil && !bytes.Equal(out, in) {
					err = errors.New("echo came back different")
				}
				errs[i] = err
			case 1: // medium: the calls stream
				in := bytes.Repeat([]byte{byte(i)}, 32<<10+i)
				out, err := host.Call(ctx, w, testproto.Echo, in)
				if err == nil && !bytes.Equal(out, in) {
					err = errors.New("echo came back different")
				}
				errs[i] = err
			default:
				got, err := host.Call(ctx, w, testproto.Ping, "p")
				if err == nil && got != "pong:p" {
					err = errors.New("wrong reply " + got)
				}
				errs[i] = err
			}
		}()
	}

	// Calls with a short deadline of their own end with it while the
	// worker is still stopped; they do not wait for it.
	short := make(chan error, 4)
	for range cap(short) {
		go func() {
			sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err := host.Call(sctx, w, testproto.Echo, make([]byte, 512<<10))
			short <- err
		}()
	}
	stop := time.NewTimer(stopFor(t))
	defer stop.Stop()
	for range cap(short) {
		select {
		case err := <-short:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("call with a 300ms deadline while the worker is stopped = %v, want context.DeadlineExceeded", err)
			}
		case <-stop.C:
			t.Fatalf("a call with a 300ms deadline is still waiting after %v while the worker is stopped", stopFor(t))
		}
	}
	<-stop.C // the starvation itself: the worker stays stopped this long
	resume()
	wg.Wait()
	lost := 0
	for i, err := range errs {
		if err != nil {
			lost++
			if lost <= 5 {
				t.Errorf("call %d after the worker resumed: %v", i, err)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d calls in flight failed because the worker was stopped for %v; want none", lost, calls, stopFor(t))
	}
	if !w.IsConnected() {
		t.Error("IsConnected = false after the worker resumed")
	}
	if got, err := host.Call(ctx, w, testproto.Ping, "after"); err != nil || got != "pong:after" {
		t.Errorf("Call after resume = %q, %v", got, err)
	}
}
