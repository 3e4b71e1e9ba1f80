// Command reconnect shows a host dropping its connection to a worker and
// dialing it again: Disconnect and Reconnect with a keep-alive worker,
// IsConnected against IsActive, a custom connection retry policy, the
// worker's HostConnectTimeout, and why Reconnect fails against a worker
// with the default Shutdown behavior.
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
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/reconnect/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
)

func main() {
	workerPath := flag.String("worker", "bin/reconnect-worker", "path to the worker binary")
	flag.Parse()
	if err := run(*workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "reconnect:", err)
		os.Exit(1)
	}
}

// hostConnectTimeout is the keep-alive worker's patience: long enough for
// the reconnect below, short enough to watch it expire.
const hostConnectTimeout = 500 * time.Millisecond

func run(workerPath string) error {
	ctx := context.Background()
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
				return d
			},
			MaxDelay: 50 * time.Millisecond,
		},
	})
	if err != nil {
		return err
	}
	defer w.Close()
	c, err := host.Call(ctx, w, protocol.Increment, struct{}{})
	if err != nil {
		return err
	}
	fmt.Printf("1. keep-alive worker pid %d served call %d; IsConnected=%v IsActive=%v\n", c.PID, c.Calls, w.IsConnected(), w.IsActive())

	// A call in flight when the host disconnects fails at once, not after
	// its 10 s.
	pending := make(chan error)
	go func() {
		_, err := host.Call(ctx, w, protocol.Sleep, 10_000)
		pending <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the call reach the worker
	t := time.Now()
	if err := w.Disconnect(); err != nil {
		return err
	}
	err = <-pending
	fmt.Printf("2. Disconnect: the pending 10 s call failed after %v: %v (errors.Is ErrDisconnected: %v)\n",
		since(t), err, errors.Is(err, host.ErrDisconnected))
	fmt.Printf("   IsConnected=%v IsActive=%v: the connection is gone, the process is not\n", w.IsConnected(), w.IsActive())
	_, err = host.Call(ctx, w, protocol.Increment, struct{}{})
	fmt.Printf("3. a call while disconnected: %v\n", err)

	// Make the worker's socket unreachable for a moment (as if the worker
	// were busy restarting its listener), so Reconnect has to retry with
	// the policy above. Renaming a Unix socket keeps it bound.
	sock := w.ReattachConfig().SocketPath
	if err := os.Rename(sock, sock+".away"); err != nil {
		return err
	}
	time.AfterFunc(50*time.Millisecond, func() { os.Rename(sock+".away", sock) })
	t = time.Now()
	fmt.Println("4. Reconnect while the socket is away for 50 ms:")
	if err := w.Reconnect(ctx); err != nil {
		return err
	}
	c, err = host.Call(ctx, w, protocol.Increment, struct{}{})
	if err != nil {
		return err
	}
	fmt.Printf("   reconnected in %v; IsConnected=%v; the same worker pid %d served call %d\n", since(t), w.IsConnected(), c.PID, c.Calls)

	// Disconnect and stay away: the keep-alive worker waits
	// HostConnectTimeout for a host, then exits cleanly on its own.
	t = time.Now()
	w.Disconnect()
	<-w.Exited()
	fmt.Printf("5. no host came back: the worker exited by itself after %v (HostConnectTimeout %v); IsActive=%v\n",
		since(t), hostConnectTimeout, w.IsActive())
	err = w.Reconnect(ctx)
	fmt.Printf("   Reconnect: %v\n", err)
	w.Close()

	// The default, plugin.Shutdown: the worker exits as soon as its host
	// disconnects, so that no worker is ever orphaned; Reconnect says so.
	w2, err := host.Start(ctx, host.Config{Cmd: exec.Command(workerPath), Handshake: protocol.Handshake})
	if err != nil {
		return err
	}
	defer w2.Close()
	if _, err := host.Call(ctx, w2, protocol.Increment, struct{}{}); err != nil {
		return err
	}
	w2.Disconnect()
	err = w2.Reconnect(ctx)
	fmt.Printf("6. default Shutdown behavior, Reconnect after Disconnect: %v\n", err)
	fmt.Printf("   errors.Is ErrWorkerTerminated: %v; IsActive=%v\n", errors.Is(err, host.ErrWorkerTerminated), w2.IsActive())
	fmt.Println("7. close:", w2.Close())
	return nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
