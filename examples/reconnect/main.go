// Command reconnect shows a host dropping its connection to a worker and
// dialing it again: Disconnect and Reconnect with a keep-alive worker,
// IsConnected against IsActive, a custom connection retry policy, the
// worker's HostConnectTimeout, and why Reconnect fails against a worker
// with the default Shutdown behavior. It checks every result it shows and
// exits with status 1 if one is not what it expects; the errors it
// provokes on purpose are marked "(expected)".
//
//	go build -o bin/reconnect-worker ./examples/reconnect/worker
//	go run ./examples/reconnect -worker bin/reconnect-worker
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/reconnect/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
)

func main() {
	workerPath := flag.String("worker", "bin/reconnect-worker", "path to the worker binary")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "reconnect:", err)
		os.Exit(1)
	}
	c.Exit()
}

// hostConnectTimeout is the keep-alive worker's patience: long enough for
// the reconnect below, short enough to watch it expire.
const hostConnectTimeout = 500 * time.Millisecond

// waitBound bounds each wait for the worker below; it is only reached when
// something is broken.
const waitBound = 10 * time.Second

func run(c *check.Checker, workerPath string) error {
	ctx := context.Background()
	// The socket is away during step 4; the retry policy brings it back
	// while waiting for its second retry, so the retries always show.
	var (
		mu        sync.Mutex
		retries   []int
		sockBack  func()
		sleepSeen = make(chan struct{}, 1)
	)
	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath, "-keep-alive", "-host-connect-timeout", hostConnectTimeout.String()),
		Handshake: protocol.Handshake,
		// The dial policy for Start and Reconnect: 5 dials, doubling from
		// 20 ms, never more than 50 ms apart. DelayFunc replaces the
		// default exponential backoff with jitter; a negative result is an
		// error, never "retry at once".
		Connection: host.Connection{
			Attempts: 5,
			DelayFunc: func(retry int) time.Duration {
				d := 20 * time.Millisecond << retry
				fmt.Printf("   dial failed; retry %d in %v (capped at 50ms)\n", retry, d)
				mu.Lock()
				defer mu.Unlock()
				retries = append(retries, retry)
				if retry == 1 && sockBack != nil {
					sockBack()
					sockBack = nil
				}
				return d
			},
			MaxDelay: 50 * time.Millisecond,
		},
		OnEvent: func(ev host.ReceivedEvent) {
			if _, ok, _ := host.DecodeEvent(ev, protocol.SleepStarted); ok {
				select {
				case sleepSeen <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		return err
	}
	defer w.Close()
	cnt, err := host.Call(ctx, w, protocol.Increment, struct{}{})
	if err != nil {
		return err
	}
	fmt.Printf("1. keep-alive worker pid %d served call %d; IsConnected=%v IsActive=%v\n", cnt.PID, cnt.Calls, w.IsConnected(), w.IsActive())
	c.That(cnt.PID == w.PID() && cnt.Calls == 1, "1. increment -> call %d by pid %d, want call 1 by pid %d", cnt.Calls, cnt.PID, w.PID())
	c.That(w.IsConnected() && w.IsActive(), "1. IsConnected=%v IsActive=%v, want true true", w.IsConnected(), w.IsActive())

	// A call in flight when the host disconnects fails at once, not after
	// its 10 s.
	pending := make(chan error)
	go func() {
		_, err := host.Call(ctx, w, protocol.Sleep, 10_000)
		pending <- err
	}()
	// The worker tells us when the call has reached its handler.
	select {
	case <-sleepSeen:
	case <-time.After(waitBound):
		c.That(false, "2. the sleep call did not reach the worker within %v", waitBound)
	}
	t := time.Now()
	if err := w.Disconnect(); err != nil {
		return err
	}
	err = <-pending
	fmt.Printf("2. (expected) Disconnect: the pending 10 s call failed after %v: %v (errors.Is ErrDisconnected: %v)\n",
		since(t), err, errors.Is(err, host.ErrDisconnected))
	fmt.Printf("   IsConnected=%v IsActive=%v: the connection is gone, the process is not\n", w.IsConnected(), w.IsActive())
	c.That(errors.Is(err, host.ErrDisconnected), "2. the pending call after Disconnect -> %v, want ErrDisconnected", err)
	c.That(!w.IsConnected() && w.IsActive(), "2. IsConnected=%v IsActive=%v, want false true", w.IsConnected(), w.IsActive())
	_, err = host.Call(ctx, w, protocol.Increment, struct{}{})
	fmt.Printf("3. (expected) a call while disconnected: %v\n", err)
	c.That(errors.Is(err, host.ErrDisconnected), "3. a call while disconnected -> %v, want ErrDisconnected", err)

	// Make the worker's socket unreachable for a moment (as if the worker
	// were busy restarting its listener), so Reconnect has to retry with
	// the policy above. Renaming a Unix socket keeps it bound.
	sock := w.ReattachConfig().SocketPath
	if err := os.Rename(sock, sock+".away"); err != nil {
		return err
	}
	mu.Lock()
	retries, sockBack = nil, func() { os.Rename(sock+".away", sock) }
	mu.Unlock()
	t = time.Now()
	fmt.Println("4. Reconnect while the socket is away (it comes back during the second retry's delay):")
	if err := w.Reconnect(ctx); err != nil {
		return err
	}
	pid := cnt.PID
	cnt, err = host.Call(ctx, w, protocol.Increment, struct{}{})
	if err != nil {
		return err
	}
	fmt.Printf("   reconnected in %v; IsConnected=%v; the same worker pid %d served call %d\n", since(t), w.IsConnected(), cnt.PID, cnt.Calls)
	mu.Lock()
	got := slices.Clone(retries)
	mu.Unlock()
	c.That(slices.Equal(got, []int{0, 1}), "4. the delay function ran for retries %v, want [0 1]: two failed dials, then success", got)
	c.That(w.IsConnected() && cnt.PID == pid && cnt.Calls == 2, "4. after Reconnect call %d by pid %d (IsConnected=%v), want call 2 by pid %d", cnt.Calls, cnt.PID, w.IsConnected(), pid)

	// Disconnect and stay away: the keep-alive worker waits
	// HostConnectTimeout for a host, then exits cleanly on its own.
	t = time.Now()
	c.NoError("5. Disconnect", w.Disconnect())
	select {
	case <-w.Exited():
	case <-time.After(waitBound):
		c.That(false, "5. the keep-alive worker still runs %v after its HostConnectTimeout of %v", waitBound, hostConnectTimeout)
	}
	fmt.Printf("5. no host came back: the worker exited by itself after %v (HostConnectTimeout %v); IsActive=%v\n",
		since(t), hostConnectTimeout, w.IsActive())
	c.That(!w.IsActive(), "5. IsActive=true after the worker exited")
	err = w.Reconnect(ctx)
	fmt.Printf("   (expected) Reconnect: %v\n", err)
	c.That(errors.Is(err, host.ErrWorkerTerminated), "5. Reconnect to the exited worker -> %v, want ErrWorkerTerminated", err)
	w.Close()

	// The default, plugin.ExitOnDisconnect: the worker exits as soon as its host
	// disconnects, so that no worker is ever orphaned; Reconnect says so.
	w2, err := host.Start(ctx, host.Config{Cmd: exec.Command(workerPath), Handshake: protocol.Handshake})
	if err != nil {
		return err
	}
	defer w2.Close()
	if _, err := host.Call(ctx, w2, protocol.Increment, struct{}{}); err != nil {
		return err
	}
	c.NoError("6. Disconnect", w2.Disconnect())
	err = w2.Reconnect(ctx)
	fmt.Printf("6. (expected) default Shutdown behavior, Reconnect after Disconnect: %v\n", err)
	fmt.Printf("   errors.Is ErrWorkerTerminated: %v; IsActive=%v\n", errors.Is(err, host.ErrWorkerTerminated), w2.IsActive())
	c.That(errors.Is(err, host.ErrWorkerTerminated) && !w2.IsActive(), "6. Reconnect to a Shutdown-mode worker -> %v (IsActive=%v), want ErrWorkerTerminated, false", err, w2.IsActive())
	err = w2.Close()
	fmt.Println("7. close:", err)
	c.NoError("7. Close", err)
	return nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
