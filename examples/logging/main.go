// Command logging shows where a worker's log records go and how calls time
// out: the host's log/slog logger (JSON on stdout) plugged in with
// shared.FromSlog, the worker's records arriving in it under a sub-logger
// named after the worker with their fields, LogLevel filtering them, and
// the call timeout default with per-message overrides.
//
//	go build -o bin/logging-worker ./examples/logging/worker
//	go run ./examples/logging -worker bin/logging-worker
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/logging/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	workerPath := flag.String("worker", "bin/logging-worker", "path to the worker binary")
	flag.Parse()
	if err := run(*workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "logging:", err)
		os.Exit(1)
	}
}

func run(workerPath string) error {
	ctx := context.Background()

	// The application's own slog logger: JSON on stdout. The timestamp is
	// dropped only to keep this example's output short.
	out := &indented{}
	slogger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))

	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath),
		Handshake: protocol.Handshake,
		Name:      "thumbnailer", // names the worker's sub-logger (default: the binary's name)
		Logger:    shared.FromSlog(slogger),
		// LogLevel filters the host's records and, unless the worker sets
		// its own, the worker's, in the worker: records below it never
		// cross the socket. The default is Warn.
		LogLevel: hclog.Info,
		// CallTimeout bounds every call whose message has no timeout of
		// its own. The default, zero, means no timeout.
		CallTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Printf("1. started worker %q (pid %d); host logger: log/slog JSON handler via shared.FromSlog, LogLevel info\n", w.Name(), w.PID())

	res, err := host.Call(ctx, w, protocol.Resize, protocol.ResizeReq{JobID: "job-42", Width: 640})
	if err != nil {
		return err
	}
	fmt.Printf("2. resize -> %q; the worker logged debug, info and warn records and a stderr line:\n", res)
	// Records travel on a stream of their own, so they may arrive just
	// after the reply.
	out.waitLines(3, 2*time.Second)
	out.flush()
	fmt.Println("   (the debug record was dropped in the worker: below LogLevel info)")

	t := time.Now()
	_, err = host.Call(ctx, w, protocol.Sleep, 1000)
	fmt.Printf("3. sleep 1 s with CallTimeout 200ms: failed after %v: %v\n   errors.Is context.DeadlineExceeded: %v\n",
		since(t), err, errors.Is(err, context.DeadlineExceeded))

	t = time.Now()
	res, err = host.Call(ctx, w, protocol.SleepPatiently, 500)
	fmt.Printf("4. the same message WithTimeout(2s), 500 ms of work: %q %v after %v\n", res, err, since(t))

	t = time.Now()
	res, err = host.Call(ctx, w, protocol.SleepUnbounded, 300)
	fmt.Printf("5. WithTimeout(0), no timeout at all, 300 ms of work: %q %v after %v\n", res, err, since(t))

	// The earliest deadline wins: a caller's context can always cut a
	// call shorter than the message's timeout.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	t = time.Now()
	_, err = host.Call(cctx, w, protocol.SleepPatiently, 500)
	cancel()
	fmt.Printf("6. WithTimeout(2s) but a 50 ms context: failed after %v: %v\n", since(t), err)

	fmt.Println("7. close:", w.Close())
	out.flush() // anything the library logged while closing
	return nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }

// indented holds the log output and prints it indented under the
// example's numbered lines, so the two never interleave.
type indented struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines int
}

func (o *indented) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines += bytes.Count(p, []byte("\n"))
	return o.buf.Write(p)
}

// waitLines waits until n lines were written, or timeout.
func (o *indented) waitLines(n int, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		o.mu.Lock()
		done := o.lines >= n
		o.mu.Unlock()
		if done {
			return
		}
	}
}

// flush prints what was written so far.
func (o *indented) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, line := range bytes.SplitAfter(o.buf.Bytes(), []byte("\n")) {
		if len(line) > 0 {
			fmt.Printf("   %s", line)
		}
	}
	o.buf.Reset()
}
