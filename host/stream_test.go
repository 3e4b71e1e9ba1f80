package host

import (
	"bufio"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// A worker without streams (built before them) closes a stream whose name
// it does not know, as PROTOCOL.md section 5 says. The range ends with
// ErrStreamUnsupported, and calls go on. A worker that closes a stream
// after some items, without its end, gives ErrStreamBroken.
func TestStreamOnWorkerWithoutStreams(t *testing.T) {
	w, hw := attachHostile(t, nil, nil)
	defer hw.close()
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	items := shared.NewStream[string, string]("lines")
	for _, tc := range []struct {
		name  string
		items int // items the worker sends before it closes the stream
		want  error
	}{
		{"closed at once", 0, ErrStreamUnsupported},
		{"closed after items", 2, ErrStreamBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accepted := make(chan error, 1)
			go func() {
				st, err := hw.ymx.AcceptStream()
				if err != nil {
					accepted <- err
					return
				}
				defer st.Close()
				br := bufio.NewReader(st)
				name, err := wire.ReadStreamName(st, br, 5*time.Second)
				if err == nil && name != wire.StreamItems {
					err = errors.New("stream named " + name)
				}
				if err == nil {
					var h wire.Header
					if h, _, err = hw.codec.Read(frameReaderFor(br, hw.codec)); err == nil {
						for i := range tc.items {
							if _, err = st.Write(hw.frame(wire.Header{Version: 1, Kind: shared.KindItem, Type: h.Type, ID: h.ID}, string(rune('a'+i)))); err != nil {
								break
							}
						}
					}
				}
				accepted <- err
			}()
			got := 0
			var last error
			for _, err := range Stream(ctx, w, items, "x") {
				if err != nil {
					last = err
					break
				}
				got++
			}
			if err := <-accepted; err != nil {
				t.Fatalf("the worker's side of the stream: %v", err)
			}
			if !errors.Is(last, tc.want) || got != tc.items {
				t.Errorf("Stream: %d items, then %v; want %d items and %v", got, last, tc.items, tc.want)
			}
		})
	}
	done := make(chan error, 1)
	go func() {
		_, err := Call(ctx, w, hostilePing, "x")
		done <- err
	}()
	req := <-hw.reqs
	if _, err := hw.streams[wire.StreamCalls].Write(hw.frame(wire.Header{Version: 1, Kind: shared.KindResult, Type: "ping", ID: req.ID}, "pong")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Call after the streams: %v", err)
	}
}
