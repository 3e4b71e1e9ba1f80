package host

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
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

// TestAcceptanceCheckedAlike: a worker that accepts the hello at another
// protocol version than the host asked for fails Attach (and Start, which
// runs the same hello) with a *handshake.VersionMismatchError, as a
// refusal for the same reason does.
func TestAcceptanceCheckedAlike(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		ymx, err := yamux.Server(wire.FrameConn(nc), wire.YamuxConfig())
		if err != nil {
			nc.Close()
			return
		}
		defer ymx.Close()
		st, err := ymx.AcceptStream()
		if err != nil {
			return
		}
		br := bufio.NewReader(st)
		var hh handshakewire.HostHello
		if _, err := wire.ReadStreamName(st, br, 5*time.Second); err != nil || handshakewire.ReadHello(br, &hh) != nil {
			return
		}
		handshakewire.WriteHello(st, handshakewire.WorkerHello{ProtocolVersion: hh.ProtocolVersion + 1, Serializer: hh.Serializer,
			Fingerprint: hh.Fingerprint, PID: os.Getpid(), DisconnectBehavior: handshakewire.BehaviorKeepAlive})
		io.Copy(io.Discard, br) // until the host hangs up
	}()
	t.Cleanup(func() { <-done })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Attach(ctx, ReattachConfig{Name: "v", SocketPath: sock, PID: os.Getpid(), ProtocolVersion: 1, Serializer: "json", AuthToken: "t"},
		Config{Handshake: testHandshake})
	var vm *handshake.VersionMismatchError
	if !errors.As(err, &vm) || !slices.Equal(vm.Host, []int{1}) || !slices.Equal(vm.Worker, []int{2}) {
		t.Errorf("Attach to a worker accepting version 2 = %v, want a *handshake.VersionMismatchError (host [1], worker [2])", err)
	}
}
