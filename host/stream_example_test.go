package host_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/plugin/plugintest"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Words streams the words of a text, one item each.
var Words = shared.NewStream[string, string]("words")

// A stream: the worker's handler sends items as it produces them, the host
// ranges over them. The worker runs in this process here (plugintest); in
// a real project it is a binary started with host.Start.
func ExampleStream() {
	ctx := context.Background()
	w, err := plugintest.Start(ctx, plugin.Config{
		Handshake: Handshake,
		Handlers: plugin.Handlers(
			plugin.HandleStream(Words, func(ctx context.Context, text string, send func(string) error) error {
				for _, word := range strings.Fields(text) {
					if err := send(word); err != nil {
						return err // the host stopped ranging, or went away
					}
				}
				return nil
			}),
		),
	}, host.Config{Handshake: Handshake})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	for word, err := range host.Stream(ctx, w.Worker, Words, "streams of items, in order") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(word)
		if word == "items," {
			break // cancels the stream: the handler's send fails
		}
	}
	// Output:
	// streams
	// of
	// items,
}
