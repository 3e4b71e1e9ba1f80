package plugin

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Fuzz ops, one byte each (mod fuzzOps), followed by their arguments.
const (
	opOpen    = iota // name index: open a stream and write its name
	opBytes          // stream, length: write length raw bytes from the input
	opRequest        // stream, txid, type index: write an encoded request
	opCancel         // stream, txid: write a cancel
	opClose          // stream: close it
	opControl        // op index: write a control message on the control stream
	opRaw            // stream, txid, length: a request announcing raw bytes, and some of them
	fuzzOps
)

var (
	fuzzNames    = []string{wire.StreamCalls, wire.StreamBulk, wire.StreamLogs, wire.StreamEvents, wire.StreamControl, "junk", ""}
	fuzzTypes    = []string{Double.Name(), Greet.Name(), "nope", ""}
	fuzzControls = []string{handshakewire.OpGoodbye, handshakewire.OpShutdown, "bogus"}
)

// fuzzWriteBound keeps one write of the fuzzer from waiting for a window
// the worker will not grant (it does not read a stream it refused).
const fuzzWriteBound = 50 * time.Millisecond

// FuzzHostStreams drives a worker through an authenticated connection with
// a sequence of stream opens, frames, cancels, closes and control messages
// decoded from the input, then checks that the worker did not panic or
// hang: it ends the connection in time and serves a normal call on a fresh
// connection (or, after a shutdown request, stops).
func FuzzHostStreams(f *testing.F) {
	f.Add([]byte{opOpen, 0, opOpen, 0})                                  // a second calls stream
	f.Add([]byte{opOpen, 1, opOpen, 1, opRequest, 0, 'a', 0})            // a second bulk stream
	f.Add([]byte{opOpen, 0, opRequest, 0, 'a', 0, opRequest, 0, 'a', 0}) // a duplicate txid
	f.Add([]byte{opOpen, 0, opRequest, 0, 'a', 1, opCancel, 0, 'a'})     // a call and its cancel
	f.Add([]byte{opOpen, 1, opRaw, 0, 'r', 200, opClose, 0})             // a raw body cut short
	f.Add([]byte{opOpen, 0, opBytes, 0, 5, '{', '}', '\n', 'x', '\n'})   // junk frames
	f.Add([]byte{opOpen, 2, opOpen, 3, opOpen, 4, opOpen, 5, opOpen, 6}) // every other name
	f.Add([]byte{opOpen, 0, opRequest, 0, 'a', 0, opControl, 1})         // shutdown mid-call
	f.Add([]byte{opControl, 0, opOpen, 0})                               // goodbye, then a stream
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256 {
			data = data[:256]
		}
		w := servePeer(t, Config{DisconnectBehavior: KeepAlive, MaxFrameSize: 4 << 10, MaxRawSize: 4 << 10,
			HostConnectTimeout: shared.Duration(0)})
		ymx, control := w.authenticate(t)
		shutdown := runOps(ymx, control, data)
		syncStreams(ymx)
		ymx.Close()
		// A shutdown request the worker read stops it, and a new host is
		// refused; one it did not read (sent after a goodbye, or after
		// the worker dropped the connection) leaves it serving.
		hw, err := w.tryAttach(t)
		if err != nil {
			if !shutdown {
				t.Fatalf("Attach after the sequence: %v", err)
			}
			select {
			case err := <-w.done:
				w.done <- err
				if err != nil {
					t.Errorf("ServeContext after a shutdown request = %v, want nil", err)
				}
			case <-time.After(testBound):
				t.Fatalf("the worker refused a new host but did not stop within %v of a shutdown request", testBound)
			}
			return
		}
		callDouble(t, hw)
	})
}

// runOps plays data against the worker; it reports whether it asked the
// worker to shut down.
func runOps(ymx *yamux.Session, control *yamux.Stream, data []byte) (shutdown bool) {
	codec := wire.NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	var streams []*yamux.Stream
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	stream := func() *yamux.Stream {
		b := next()
		if len(streams) == 0 {
			return nil
		}
		return streams[int(b)%len(streams)]
	}
	write := func(st *yamux.Stream, b []byte) {
		if st == nil {
			return
		}
		st.SetWriteDeadline(time.Now().Add(fuzzWriteBound))
		st.Write(b)
	}
	for len(data) > 0 {
		switch next() % fuzzOps {
		case opOpen:
			name := fuzzNames[int(next())%len(fuzzNames)]
			st, err := ymx.OpenStream()
			if err != nil {
				return shutdown
			}
			if name != "" {
				write(st, []byte(name+"\n"))
			}
			streams = append(streams, st)
		case opBytes:
			st, n := stream(), int(next())%64
			n = min(n, len(data))
			write(st, data[:n])
			data = data[n:]
		case opRequest:
			st, id, typ := stream(), string(rune(next())), fuzzTypes[int(next())%len(fuzzTypes)]
			out, _, err := codec.Encode(nil, &wire.Header{Version: 1, Kind: shared.KindRequest, Type: typ, ID: id}, 21)
			if err == nil {
				write(st, out)
			}
		case opCancel:
			st, id := stream(), string(rune(next()))
			out, _, err := codec.Encode(nil, &wire.Header{Version: 1, Kind: shared.KindCancel, ID: id}, nil)
			if err == nil {
				write(st, out)
			}
		case opClose:
			if st := stream(); st != nil {
				st.Close()
			}
		case opControl:
			op := fuzzControls[int(next())%len(fuzzControls)]
			b, _ := json.Marshal(handshakewire.Control{Op: op})
			write(control, append(b, '\n'))
			shutdown = shutdown || op == handshakewire.OpShutdown
		case opRaw:
			st, id, n := stream(), string(rune(next())), int(next())*32
			out, raw, err := codec.Encode(nil, &wire.Header{Version: 1, Kind: shared.KindRequest, Type: Double.Name(), ID: id}, make([]byte, n))
			if err == nil {
				write(st, append(out, raw[:len(raw)/2]...))
			}
		}
	}
	return shutdown
}

// syncStreams opens a stream of an unknown name and waits (boundedly) for
// the worker to close it: by then it has most likely read the names of the
// streams opened before, so a sequence that breaks the worker through them
// does so before the connection ends.
func syncStreams(ymx *yamux.Session) {
	st, err := openNamed(ymx, "sync")
	if err != nil {
		return
	}
	st.SetReadDeadline(time.Now().Add(testBound))
	io.Copy(io.Discard, st)
}
