package host

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

var (
	trigger   = shared.NewMessage[int, int]("trigger")
	hostBlock = shared.NewMessage[int, int]("host-block")
)

// TestHostRefusesDuplicateTxIDFromWorker: a worker calls the host twice
// with one transaction id while the first call runs. The host answers the
// second with an error of code duplicate_txid and still answers the first,
// as a worker does for a host's duplicate.
func TestHostRefusesDuplicateTxIDFromWorker(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	hw := startFrameHostileWorker(t, func(w io.Writer, h wire.Header) {
		// The host's call to the worker: call the host twice with one id,
		// the second while the first runs, then answer the host's call.
		io.WriteString(w, `{"v":1,"k":1,"t":"host-block","id":"dup","b":1}`+"\n1\n")
		<-started
		io.WriteString(w, `{"v":1,"k":1,"t":"host-block","id":"dup","b":1}`+"\n2\n")
		writeReply(w, h, wire.BodyFrame, 0, "0\n")
	})
	w := attachFrameHostile(t, hw, Config{Handlers: Handlers(Handle(hostBlock, func(ctx context.Context, n int) (int, error) {
		started <- struct{}{}
		<-release
		return n, nil
	}))})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Call(ctx, w, trigger, 0); err != nil {
		t.Fatalf("Call(trigger) = %v", err)
	}
	next := func() wire.Header {
		t.Helper()
		select {
		case h := <-hw.seen:
			return h
		case <-ctx.Done():
			t.Fatal("the host sent nothing more to the worker")
			return wire.Header{}
		}
	}
	if h := next(); h.Kind != shared.KindError || h.ID != "dup" {
		t.Fatalf("host's answer to the duplicate = kind %v id %q, want an error for %q", h.Kind, h.ID, "dup")
	}
	close(release)
	if h := next(); h.Kind != shared.KindResult || h.ID != "dup" {
		t.Errorf("host's answer to the first call = kind %v id %q, want its result", h.Kind, h.ID)
	}
}
