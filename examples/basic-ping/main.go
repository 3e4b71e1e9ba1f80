// Command basic-ping is a host that launches the basic-ping worker and shows
// the core features end to end: typed calls, raw bytes, remote errors,
// cancellation, a panicking handler, a crash, and a clean close. It checks
// every result it shows and exits with status 1 if one is not what it
// expects; the failures it provokes on purpose are marked "(expected)".
//
//	go build -o bin/basic-ping-worker ./examples/basic-ping/worker
//	go run ./examples/basic-ping -worker bin/basic-ping-worker
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/basic-ping/protocol"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	workerPath := flag.String("worker", "bin/basic-ping-worker", "path to the worker binary")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "basic-ping:", err)
		os.Exit(1)
	}
	c.Exit()
}

func run(c *check.Checker, workerPath string) error {
	ctx := context.Background()
	panics := &expectedPanics{seen: make(chan []string, 1)}
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: os.Stdout, Exclude: panics.exclude})
	start := time.Now()
	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath),
		Handshake: protocol.Handshake,
		Logger:    logger,
		LogLevel:  hclog.Info,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Printf("1. started worker pid %d in %v (protocol v%d, serves %v)\n", w.PID(), time.Since(start).Round(time.Millisecond), w.ProtocolVersion(), w.Messages())
	wantMsgs := []string{"crash", "echo", "fail", "panic", "ping", "sleep"}
	c.That(w.ProtocolVersion() == 1 && slices.Equal(w.Messages(), wantMsgs),
		"1. protocol v%d serving %v, want v1 serving %v", w.ProtocolVersion(), w.Messages(), wantMsgs)

	res, err := host.Call(ctx, w, protocol.Ping, protocol.PingReq{Message: "hello"})
	if err != nil {
		return err
	}
	fmt.Printf("2. ping -> %q from pid %d\n", res.Message, res.WorkerID)
	c.That(res.Message == "pong: hello" && res.WorkerID == w.PID(),
		"2. ping -> %q from pid %d, want %q from pid %d", res.Message, res.WorkerID, "pong: hello", w.PID())

	blob := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	t := time.Now()
	echo, err := host.Call(ctx, w, protocol.Echo, blob)
	if err != nil {
		return err
	}
	fmt.Printf("3. echoed %d raw bytes in %v (equal: %v)\n", len(echo), time.Since(t).Round(time.Microsecond), bytes.Equal(echo, blob))
	c.That(bytes.Equal(echo, blob), "3. echo returned %d different bytes, want the %d sent", len(echo), len(blob))

	_, err = host.Call(ctx, w, protocol.Fail, "disk full")
	var re *shared.RemoteError
	fmt.Printf("4. (expected) handler error arrives typed: %v (errors.As RemoteError: %v)\n", err, errors.As(err, &re))
	c.That(errors.As(err, &re) && re.Message == "disk full" && re.Code == shared.CodeHandler,
		"4. fail -> %v, want a RemoteError %q with code %q", err, "disk full", shared.CodeHandler)

	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = host.Call(cctx, w, protocol.Sleep, 10_000)
	cancel()
	fmt.Printf("5. (expected) a 10 s call with a 50 ms deadline: %v\n", err)
	c.That(errors.Is(err, context.DeadlineExceeded), "5. sleep past its deadline -> %v, want context.DeadlineExceeded", err)

	// The worker logs a panic at ERROR with its stack; here it is expected,
	// so the logger keeps the stack off the terminal and we say it came.
	panics.expect.Store(true)
	_, err = host.Call(ctx, w, protocol.Panic, "boom")
	fmt.Printf("6. (expected) a panicking handler: %v\n", err)
	c.That(errors.As(err, &re) && re.Code == shared.CodePanic && strings.Contains(re.Message, "boom"),
		"6. panic -> %v, want a RemoteError with code %q naming the panic", err, shared.CodePanic)
	select {
	case stack := <-panics.seen:
		fmt.Printf("   (expected) the worker logged it at ERROR with a %d-line stack (not shown)\n", len(stack))
		c.That(len(stack) > 0 && strings.Contains(stack[0], "goroutine"), "6. the panic record's stack = %q, want a goroutine stack", stack)
	case <-time.After(10 * time.Second):
		c.That(false, "6. no panic record from the worker within 10s, want one with the stack")
	}
	panics.expect.Store(false)
	res, err = host.Call(ctx, w, protocol.Ping, protocol.PingReq{Message: "still there?"})
	fmt.Printf("   ... and the worker keeps serving: %q %v\n", res.Message, err)
	c.That(err == nil && res.Message == "pong: still there?", "6. ping after the panic -> %q, %v, want %q", res.Message, err, "pong: still there?")

	_, err = host.Call(ctx, w, protocol.Crash, 3)
	fmt.Printf("7. (expected) a crashing worker fails the call at once: %v\n", err)
	fmt.Printf("   IsActive=%v IsConnected=%v\n", w.IsActive(), w.IsConnected())
	var ee *host.ExitError
	c.That(errors.As(err, &ee) && ee.ExitCode == 3, "7. crash -> %v, want an ExitError with status 3", err)
	c.That(!w.IsActive() && !w.IsConnected(), "7. after the crash IsActive=%v IsConnected=%v, want false false", w.IsActive(), w.IsConnected())

	err = w.Close()
	fmt.Println("8. close:", err)
	c.NoError("8. Close", err)
	return nil
}

// expectedPanics keeps the record of a panic the example provokes off the
// terminal (hclog's Exclude) and hands over its stack instead.
type expectedPanics struct {
	expect atomic.Bool
	seen   chan []string // the stack's lines, once
}

func (p *expectedPanics) exclude(level hclog.Level, msg string, args ...any) bool {
	if !p.expect.Load() || msg != "handler panicked" {
		return false
	}
	var stack []string
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == "stack" {
			s, _ := args[i+1].(string)
			stack = strings.Split(strings.TrimSpace(s), "\n")
		}
	}
	select {
	case p.seen <- stack:
	default:
	}
	return true
}
