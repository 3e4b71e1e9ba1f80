package peer

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
)

// Why a connection was refused before or during its hello.
var (
	ErrNoHello           = errors.New("no hello")
	ErrStreamBeforeHello = errors.New("peer opened a second stream before the hello")
)

// Greet is the host's side of the hello: it opens the control stream,
// sends hh and reads the worker's answer, waiting at most timeout (or
// ctx's deadline, if earlier). A refusal is a *RefusedError; an acceptance
// that does not match hh fails with the handshake's typed error
// (*handshake.SerializerMismatchError, *handshake.SerializerCollisionError,
// *handshake.VersionMismatchError), whether the host started the worker or
// attaches to it. The reader returned holds what follows the hello on the
// control stream.
func Greet(ctx context.Context, ymx *yamux.Session, hh handshakewire.HostHello, timeout time.Duration) (*yamux.Stream, *bufio.Reader, handshakewire.WorkerHello, error) {
	var wh handshakewire.WorkerHello
	control, err := OpenStream(ymx, wire.StreamControl)
	if err != nil {
		return nil, nil, wh, fmt.Errorf("open control stream: %w", err)
	}
	if err := handshakewire.WriteHello(control, hh); err != nil {
		return nil, nil, wh, fmt.Errorf("write hello: %w", err)
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	control.SetReadDeadline(deadline)
	br := bufio.NewReader(control)
	if err := handshakewire.ReadHello(br, &wh); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return nil, nil, wh, context.Cause(ctx)
		}
		return nil, nil, wh, fmt.Errorf("read worker hello: %w", err)
	}
	control.SetReadDeadline(time.Time{})
	switch {
	case wh.Error != "":
		return nil, nil, wh, &RefusedError{Reason: wh.Error, Code: wh.Code, cause: handshakewire.ErrorFromCode(wh.Code, wh.Fields)}
	case wh.Serializer != hh.Serializer:
		return nil, nil, wh, &handshake.SerializerMismatchError{Host: hh.Serializer, Worker: wh.Serializer}
	case wh.Fingerprint != hh.Fingerprint:
		return nil, nil, wh, &handshake.SerializerCollisionError{Name: wh.Serializer, Host: hh.Fingerprint, Worker: wh.Fingerprint}
	case wh.ProtocolVersion != hh.ProtocolVersion:
		return nil, nil, wh, &handshake.VersionMismatchError{Host: []int{hh.ProtocolVersion}, Worker: []int{wh.ProtocolVersion}}
	}
	return control, br, wh, nil
}

// OpenStream opens a stream and writes its name.
func OpenStream(ymx *yamux.Session, name string) (*yamux.Stream, error) {
	st, err := ymx.OpenStream()
	if err != nil {
		return nil, err
	}
	if err := wire.WriteStreamName(st, name); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Welcome is what a worker checks a host's hello against.
type Welcome struct {
	Token, Serializer, Fingerprint string
	Version                        int
	// From names the connection's peer in an auth failure ("pid 4100
	// (uid 1000)").
	From string
	// Stopping closes when the worker stops: a hello not read by then is
	// not waited for.
	Stopping <-chan struct{}
	// Timeout bounds the wait for the first stream, its name and the
	// hello; Linger how long a refused connection is kept open for the
	// peer to read the refusal.
	Timeout, Linger time.Duration
}

// Greeting is a host's hello that passed the checks, not answered yet.
type Greeting struct {
	Hello   handshakewire.HostHello
	Control *yamux.Stream
	Reader  *bufio.Reader // the control stream past the hello

	ymx       *yamux.Session
	linger    time.Duration
	stopWatch func() error
}

// Await reads the host's hello on the first stream of ymx and checks it
// (token, serializer name, fingerprint, version, in that order), refusing a
// hello that fails with the matching code. Until the hello is answered
// (Accept or Refuse), a peer that opens another stream has its session
// closed.
func (wl Welcome) Await(ymx *yamux.Session) (*Greeting, error) {
	type accepted struct {
		st  *yamux.Stream
		err error
	}
	// A worker that stops does not wait for a peer to say hello. Once the
	// hello is read, the waits left are bounded and a refusal must get out.
	helloRead := make(chan struct{})
	cutOffDone := make(chan struct{})
	readHello := sync.OnceFunc(func() { close(helloRead); <-cutOffDone })
	defer readHello()
	go func() {
		defer close(cutOffDone)
		select {
		case <-wl.Stopping:
			ymx.Close()
		case <-helloRead:
		}
	}()
	ch := make(chan accepted, 1)
	go func() {
		st, err := ymx.AcceptStream()
		ch <- accepted{st, err}
	}()
	var st *yamux.Stream
	timer := time.NewTimer(wl.Timeout)
	defer timer.Stop()
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, fmt.Errorf("accept control stream: %w", a.err)
		}
		st = a.st
	case <-timer.C:
		ymx.Close()
		<-ch
		return nil, fmt.Errorf("%w: no stream opened within %v", ErrNoHello, wl.Timeout)
	}
	stopWatch, extra := watchStreams(ymx)
	g := &Greeting{Control: st, ymx: ymx, linger: wl.Linger, stopWatch: stopWatch}
	fail := func(err error) (*Greeting, error) {
		stopWatch()
		return nil, err
	}
	br := bufio.NewReader(st)
	name, err := wire.ReadStreamName(st, br, wl.Timeout)
	if err != nil {
		return fail(preAuthErr(extra, err))
	}
	if name != wire.StreamControl {
		return fail(fmt.Errorf("first stream is %q, want %q", name, wire.StreamControl))
	}
	st.SetReadDeadline(time.Now().Add(wl.Timeout))
	hh := &g.Hello
	if err := handshakewire.ReadHello(br, hh); err != nil {
		return fail(preAuthErr(extra, fmt.Errorf("read hello: %w", err)))
	}
	st.SetReadDeadline(time.Time{})
	g.Reader = br
	readHello()
	if subtle.ConstantTimeCompare([]byte(hh.Token), []byte(wl.Token)) != 1 {
		return nil, g.Refuse(&Refusal{handshake.CodeAuthFailed, fmt.Errorf("authentication failed: wrong auth token from %s (its hello claims pid %d)", wl.From, hh.PID)})
	}
	if hh.Serializer != wl.Serializer {
		return nil, g.Refuse(&handshake.SerializerMismatchError{Host: hh.Serializer, Worker: wl.Serializer})
	}
	if hh.Fingerprint != wl.Fingerprint {
		return nil, g.Refuse(&handshake.SerializerCollisionError{Name: hh.Serializer, Host: hh.Fingerprint, Worker: wl.Fingerprint})
	}
	if hh.ProtocolVersion != wl.Version {
		return nil, g.Refuse(&handshake.VersionMismatchError{Host: []int{hh.ProtocolVersion}, Worker: []int{wl.Version}})
	}
	// The hello passed: no other stream may have been opened before it.
	if err := stopWatch(); err != nil {
		return nil, err
	}
	return g, nil
}

// Refuse answers the hello with a refusal for err, waits (at most the
// Welcome's Linger) for the peer to read it and hang up, and returns err.
// The caller closes the session.
func (g *Greeting) Refuse(err error) error {
	g.stopWatch()
	handshakewire.WriteHello(g.Control, refusalHello(err))
	// The refusal is in the socket once WriteHello returns; wait for the
	// peer to read it and hang up, so closing first cannot reset the
	// connection under it.
	linger := time.NewTimer(g.linger)
	defer linger.Stop()
	select {
	case <-g.ymx.CloseChan():
	case <-linger.C:
	}
	return err
}

// Accept answers the hello with the worker's acceptance.
func (g *Greeting) Accept(wh handshakewire.WorkerHello) error {
	return handshakewire.WriteHello(g.Control, wh)
}

// watchStreams closes ymx if the peer opens another stream before the
// hello is answered. stop ends the watch (it is idempotent) and reports
// ErrStreamBeforeHello if a stream was opened; extra is closed when one was.
func watchStreams(ymx *yamux.Session) (stop func() error, extra <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	seen := make(chan struct{})
	go func() {
		defer close(done)
		if st, err := ymx.AcceptStreamWithContext(ctx); err == nil {
			close(seen)
			st.Close()
			ymx.Close()
		}
	}()
	return func() error {
		cancel()
		<-done
		select {
		case <-seen:
			return ErrStreamBeforeHello
		default:
			return nil
		}
	}, seen
}

// preAuthErr names a second stream as the reason a hello failed, if one
// was opened: reading the hello then fails because the session was closed.
func preAuthErr(extra <-chan struct{}, err error) error {
	select {
	case <-extra:
		return ErrStreamBeforeHello
	default:
		return err
	}
}
