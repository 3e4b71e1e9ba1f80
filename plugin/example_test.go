package plugin_test

import (
	"context"
	"fmt"
	"strings"
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
type UpperReq struct {
	Text string `json:"text"`
}

type UpperRes struct {
	Text string `json:"text"`
	By   string `json:"by"`
}

var (
	Handshake = handshake.Config{MagicCookieKey: "EXAMPLE_WORKER", MagicCookieValue: "upper"}
	Upper     = shared.NewMessage[UpperReq, UpperRes]("upper")
)

func ExampleServe() {
	// The main function of a worker binary. Serve never returns: it exits
	// the process when the host lets the worker go. Started by hand, the
	// binary explains that it is a worker and exits 1.
	plugin.Serve(plugin.Config{
		Handshake: Handshake,
		Handlers: plugin.Handlers(
			plugin.Handle(Upper, func(ctx context.Context, req UpperReq) (UpperRes, error) {
				return UpperRes{Text: strings.ToUpper(req.Text)}, nil
			}),
		),
		// Optional: everything below has a documented default.
		Serializer:         shared.MsgPack{},
		DisconnectBehavior: plugin.KeepAlive,
		HostConnectTimeout: shared.Duration(time.Minute),
	})
}

func ExampleHandle() {
	// The compiler checks the handler against the message: it must take an
	// UpperReq and return an UpperRes.
	upper := plugin.Handle(Upper, func(ctx context.Context, req UpperReq) (UpperRes, error) {
		// The context carries the call's headers and is cancelled when the
		// host cancels the call or goes away.
		by := shared.HeadersFrom(ctx)["user"]
		return UpperRes{Text: strings.ToUpper(req.Text), By: by}, nil
	})
	wcfg := plugin.Config{Handshake: Handshake, Handlers: plugin.Handlers(upper)}

	// Serve the worker in this process and call it as a host would.
	ctx := context.Background()
	w, err := plugintest.Start(ctx, wcfg, host.Config{Handshake: Handshake, Logger: hclog.NewNullLogger()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()

	fmt.Println(w.Messages())
	res, err := host.Call(shared.WithHeader(ctx, "user", "ann"), w.Worker, Upper, UpperReq{Text: "hello"})
	fmt.Println(res.Text, res.By, err)
	// Output:
	// [upper]
	// HELLO ann <nil>
}
