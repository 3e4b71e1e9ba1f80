// Command basic-ping is a host that launches the basic-ping worker and shows
// the core features end to end: typed calls, raw bytes, remote errors,
// cancellation, a panicking handler, a crash, and a clean close.
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
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/basic-ping/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	workerPath := flag.String("worker", "bin/basic-ping-worker", "path to the worker binary")
	flag.Parse()
	if err := run(*workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "basic-ping:", err)
		os.Exit(1)
	}
}

func run(workerPath string) error {
	ctx := context.Background()
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: os.Stdout})
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

	res, err := host.Call(ctx, w, protocol.Ping, protocol.PingReq{Message: "hello"})
	if err != nil {
		return err
	}
	fmt.Printf("2. ping -> %q from pid %d\n", res.Message, res.WorkerID)

	blob := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	t := time.Now()
	echo, err := host.Call(ctx, w, protocol.Echo, blob)
	if err != nil {
		return err
	}
	fmt.Printf("3. echoed %d raw bytes in %v (equal: %v)\n", len(echo), time.Since(t).Round(time.Microsecond), bytes.Equal(echo, blob))

	_, err = host.Call(ctx, w, protocol.Fail, "disk full")
	var re *shared.RemoteError
	fmt.Printf("4. handler error arrives typed: %v (errors.As RemoteError: %v)\n", err, errors.As(err, &re))

	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = host.Call(cctx, w, protocol.Sleep, 10_000)
	cancel()
	fmt.Printf("5. a 10 s call with a 50 ms deadline: %v\n", err)

	_, err = host.Call(ctx, w, protocol.Panic, "boom")
	fmt.Printf("6. a panicking handler: %v\n", err)
	res, err = host.Call(ctx, w, protocol.Ping, protocol.PingReq{Message: "still there?"})
	fmt.Printf("   ... and the worker keeps serving: %q %v\n", res.Message, err)

	_, err = host.Call(ctx, w, protocol.Crash, 3)
	fmt.Printf("7. a crashing worker fails the call at once: %v\n", err)
	fmt.Printf("   IsActive=%v IsConnected=%v\n", w.IsActive(), w.IsConnected())

	fmt.Println("8. close:", w.Close())
	return nil
}
