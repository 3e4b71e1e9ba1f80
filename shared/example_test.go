package shared_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// ComputeReq and ComputeRes are the request and result of the Compute
// message in these examples.
type ComputeReq struct {
	Data int `json:"data"`
}

type ComputeRes struct {
	Result int `json:"result"`
}

func ExampleNewMessage() {
	// Define each message once, in a package both the host and the worker
	// import. host.Call and plugin.Handle then only accept a ComputeReq and
	// give back a ComputeRes.
	var Compute = shared.NewMessage[ComputeReq, ComputeRes]("compute")

	// A message may carry its own timeout, which overrides the host's
	// CallTimeout.
	slow := Compute.WithTimeout(2 * time.Minute)

	fmt.Println(Compute.Name())
	fmt.Println(Compute.Timeout())
	fmt.Println(slow.Timeout())
	// Output:
	// compute
	// 0s false
	// 2m0s true
}

func ExampleNewSerializer() {
	// A serializer needs a name (host and worker compare it), a terminator
	// its output never contains, and the two functions. encoding/json never
	// writes a zero byte, so it can be framed by one.
	s := shared.NewSerializer("json-nul", "\x00", json.Marshal, json.Unmarshal)
	if err := shared.ValidateSerializer(s); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := s.Marshal(ComputeRes{Result: 4})
	var back ComputeRes
	_ = s.Unmarshal(b, &back)

	fmt.Println(s.Name())
	fmt.Printf("%q\n", b)
	fmt.Println(back.Result)
	// Output:
	// json-nul
	// "{\"result\":4}"
	// 4
}

func ExampleChain() {
	stamp := func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		fmt.Printf("stamp: %s %s %q\n", dir, msg.Kind, msg.Type)
		if msg.Headers == nil {
			msg.Headers = map[string]string{}
		}
		msg.Headers["tenant"] = "acme"
		return nil
	}
	limit := func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if req, ok := msg.Payload.(ComputeReq); ok && req.Data > 100 {
			return errors.New("data too large")
		}
		fmt.Printf("limit: ok, tenant %s\n", msg.Headers["tenant"])
		return nil
	}
	// Built once, when a host or worker is configured (Config.Middleware),
	// and applied left to right.
	mw := shared.Chain([]shared.Middleware{stamp, limit})

	ok := &shared.AnyMessage{Kind: shared.KindRequest, Type: "compute", Payload: ComputeReq{Data: 2}}
	fmt.Println(mw(context.Background(), shared.Outgoing, ok))

	big := &shared.AnyMessage{Kind: shared.KindRequest, Type: "compute", Payload: ComputeReq{Data: 1000}}
	err := mw(context.Background(), shared.Outgoing, big)
	var me *shared.MiddlewareError
	if errors.As(err, &me) {
		fmt.Println("failed at middleware", me.Index)
	}
	fmt.Println(err)
	// Output:
	// stamp: outgoing request "compute"
	// limit: ok, tenant acme
	// <nil>
	// stamp: outgoing request "compute"
	// failed at middleware 1
	// middleware 1 (outgoing "compute"): data too large
}

func ExampleWithHeaders() {
	// Headers travel with every call made with the context; on the worker,
	// the handler's context carries them.
	ctx := shared.WithHeaders(context.Background(), map[string]string{
		"tenant": "acme",
		"user":   "ann",
	})
	ctx = shared.WithHeaders(ctx, map[string]string{
		"user":                   "bob", // later headers win
		shared.TraceParentHeader: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	})

	h := shared.HeadersFrom(ctx)
	fmt.Println(h["tenant"], h["user"])
	fmt.Println(shared.TraceParent(ctx))
	// Output:
	// acme bob
	// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}

func ExampleFromSlog() {
	handler := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		// Drop the time so the output is stable.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})
	// Use it as host.Config.Logger or plugin.Config.Logger.
	logger := shared.FromSlog(slog.New(handler))

	logger.Named("resize").Info("worker started", "pid", 4242)
	logger.With("job", "j-1").Warn("retrying", "attempt", 2)
	logger.Debug("below the handler's level: dropped")
	// Output:
	// level=INFO msg="worker started" logger=resize pid=4242
	// level=WARN msg=retrying job=j-1 attempt=2
}
