// Command bidirectional ports go-plugin's examples/bidirectional: a counter
// plugin whose storage lives in the host. The host serves Load, Store and
// Sum (host.Config.Handlers); the worker's Put and Get handlers call them
// back with plugin.CallHost, on the same connection, while the host's call
// waits. In go-plugin the same takes a MuxBroker or GRPCBroker:
// AcceptAndServe in the host and Dial in the plugin.
//
//	go build -o bin/bidirectional-worker ./examples/bidirectional/worker
//	go run ./examples/bidirectional -worker bin/bidirectional-worker
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/bidirectional/protocol"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	workerPath := flag.String("worker", "bin/bidirectional-worker", "path to the worker binary")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "bidirectional:", err)
		os.Exit(1)
	}
	c.Exit()
}

// storage is the counters, kept by the host for the worker.
type storage struct {
	mu     sync.Mutex
	values map[string]int64
	sums   atomic.Int64 // Sum calls served
}

func (s *storage) handlers() host.HandlerSet {
	return host.Handlers(
		host.Handle(protocol.Load, func(ctx context.Context, key string) (int64, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.values[key], nil
		}),
		host.Handle(protocol.Store, func(ctx context.Context, req protocol.StoreReq) (struct{}, error) {
			if req.Key == "" {
				return struct{}{}, errors.New("store: empty key")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.values[req.Key] = req.Value
			return struct{}{}, nil
		}),
		host.Handle(protocol.Sum, func(ctx context.Context, req protocol.SumReq) (int64, error) {
			s.sums.Add(1)
			return req.A + req.B, nil
		}),
	)
}

func run(c *check.Checker, workerPath string) error {
	ctx := context.Background()
	store := &storage{values: map[string]int64{}}
	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath),
		Handshake: protocol.Handshake,
		Handlers:  store.handlers(),
		Logger:    hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: os.Stdout}),
		LogLevel:  hclog.Info,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Printf("1. started worker pid %d; it serves %v and calls back the host's Load, Store and Sum\n", w.PID(), w.Messages())

	for _, v := range []int64{1, 2, 39} {
		if _, err := host.Call(ctx, w, protocol.Put, protocol.PutReq{Key: "hello", Value: v}); err != nil {
			return err
		}
	}
	got, err := host.Call(ctx, w, protocol.Get, "hello")
	if err != nil {
		return err
	}
	store.mu.Lock()
	inHost := store.values["hello"]
	store.mu.Unlock()
	fmt.Printf("2. put hello 1, 2, 39 -> get hello = %d (the host's storage holds %d; %d Sum calls from the worker)\n", got, inHost, store.sums.Load())
	c.That(got == 42 && inHost == 42 && store.sums.Load() == 3,
		"2. get hello = %d, host storage %d, %d sums; want 42, 42, 3", got, inHost, store.sums.Load())

	// Many at once: each Put holds a worker handler while its three calls
	// back to the host run. (Puts to one key race like go-plugin's file
	// counter; each goroutine has a key of its own.)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", i)
			for range 5 {
				if _, err := host.Call(ctx, w, protocol.Put, protocol.PutReq{Key: key, Value: 2}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	store.mu.Lock()
	all := true
	for i := range 20 {
		all = all && store.values[fmt.Sprintf("k%d", i)] == 10
	}
	store.mu.Unlock()
	fmt.Printf("3. 20 concurrent counters, 5 puts of 2 each: all at 10: %v\n", all)
	c.That(all, "3. 20 concurrent counters after 5 puts of 2: not all at 10")

	// The host's handler refuses: the worker's call fails with the host's
	// error, and so does the host's Put.
	_, err = host.Call(ctx, w, protocol.Put, protocol.PutReq{Key: "", Value: 1})
	var re *shared.RemoteError
	fmt.Printf("4. put with an empty key -> %v (expected)\n", err)
	c.That(errors.As(err, &re) && re.Message == "store: empty key",
		"4. put with an empty key = %v, want the host's RemoteError %q", err, "store: empty key")
	return w.Close()
}
