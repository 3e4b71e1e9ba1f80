package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/plugin/plugintest"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// In a real project these live in a package that the host and the worker
// binary both import.
type ComputeReq struct {
	Data int `json:"data"`
}

type ComputeRes struct {
	Result int `json:"result"`
}

var (
	Handshake = handshake.Config{MagicCookieKey: "EXAMPLE_WORKER", MagicCookieValue: "compute"}
	Compute   = shared.NewMessage[ComputeReq, ComputeRes]("compute")
)

// computeWorker is the worker side: in a real project, the main function
// of the worker binary passes this to plugin.Serve.
func computeWorker() plugin.Config {
	return plugin.Config{
		Handshake: Handshake,
		Handlers: plugin.Handlers(
			plugin.Handle(Compute, func(ctx context.Context, req ComputeReq) (ComputeRes, error) {
				if req.Data < 0 {
					return ComputeRes{}, fmt.Errorf("data %d is negative", req.Data)
				}
				return ComputeRes{Result: req.Data * 2}, nil
			}),
		),
	}
}

func ExampleStart() {
	ctx := context.Background()
	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command("./compute-worker", "--verbose"),
		Handshake: Handshake,
		// Optional: everything below has a documented default.
		Serializer:     shared.MsgPack{},
		LogLevel:       hclog.Info,
		StartupTimeout: 10 * time.Second,
		CallTimeout:    time.Minute,
	})
	if err != nil {
		// For example: start worker "compute-worker": worker exited during
		// start-up: worker "compute-worker" (pid 123) exited with status 1;
		// stderr: ...
		log.Fatal(err)
	}
	defer w.Close()

	res, err := host.Call(ctx, w, Compute, ComputeReq{Data: 21})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Result)
}

func ExampleCall() {
	ctx := context.Background()
	// plugintest serves the worker in this process; host.Start would launch
	// the worker binary instead. Everything after that is the same.
	w, err := plugintest.Start(ctx, computeWorker(), host.Config{Handshake: Handshake, Name: "compute", Logger: hclog.NewNullLogger()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()

	res, err := host.Call(ctx, w.Worker, Compute, ComputeReq{Data: 21})
	fmt.Println(res.Result, err)

	// A handler's error arrives as a *shared.RemoteError.
	_, err = host.Call(ctx, w.Worker, Compute, ComputeReq{Data: -1})
	var re *shared.RemoteError
	if errors.As(err, &re) {
		fmt.Println("code:", re.Code)
		fmt.Println("message:", re.Message)
	}
	fmt.Println(err)
	// Output:
	// 42 <nil>
	// code: handler
	// message: data -1 is negative
	// call "compute" on worker "compute": worker: data -1 is negative
}

func ExampleWorker_Shutdown() {
	ctx := context.Background()
	Slow := shared.NewMessage[string, string]("slow")
	started := make(chan struct{})
	wcfg := plugin.Config{
		Handshake: Handshake,
		Handlers: plugin.Handlers(plugin.Handle(Slow, func(ctx context.Context, job string) (string, error) {
			close(started)
			time.Sleep(50 * time.Millisecond)
			return job + " done", nil
		})),
	}
	w, err := plugintest.Start(ctx, wcfg, host.Config{Handshake: Handshake, Name: "slow-worker", Logger: hclog.NewNullLogger()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()

	pending := make(chan string)
	go func() {
		res, err := host.Call(ctx, w.Worker, Slow, "resize")
		pending <- fmt.Sprint(res, " ", err)
	}()
	<-started

	// Shutdown refuses new calls, waits for the pending one, then closes the
	// worker. Its context bounds the wait.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = w.Shutdown(sctx)
	fmt.Println("shutdown:", err)
	fmt.Println("pending call:", <-pending)

	_, err = host.Call(ctx, w.Worker, Slow, "another")
	fmt.Println("after shutdown:", errors.Is(err, host.ErrWorkerClosed))
	// Output:
	// shutdown: <nil>
	// pending call: resize done <nil>
	// after shutdown: true
}

// A Group closes every worker a program started, on one Close: go-plugin's
// CleanupClients, without package-level state.
func ExampleGroup() {
	ctx := context.Background()
	g := host.NewGroup()
	defer g.Close() // closes all of them, concurrently
	for _, name := range []string{"./resize", "./thumbnail"} {
		if _, err := g.Start(ctx, host.Config{Cmd: exec.Command(name), Handshake: Handshake}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(len(g.Workers()), "workers")
}

// SecureConfig refuses to start a worker executable whose checksum is not
// the expected one.
func ExampleSecureConfig() {
	sum, _ := hex.DecodeString("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") // from a trusted manifest
	w, err := host.Start(context.Background(), host.Config{
		Cmd:          exec.Command("./worker"),
		Handshake:    Handshake,
		SecureConfig: &host.SecureConfig{Checksum: sum, Hash: sha256.New},
	})
	if errors.Is(err, host.ErrChecksumMismatch) {
		log.Fatalf("worker binary was modified: %v", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
}

// Wrap runs the worker under a wrapper command that keeps its environment
// and descriptors, here at a lower CPU priority.
func ExampleWrap() {
	w, err := host.Start(context.Background(), host.Config{
		Cmd:       exec.Command("./worker"),
		Handshake: Handshake,
		Runner:    host.Wrap("nice", "-n", "10"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
}
