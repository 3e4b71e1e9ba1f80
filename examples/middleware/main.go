// Command middleware shows middleware on both sides of a worker: a host
// chain that adds trace context and credentials, validates and audits
// calls; a worker chain that audits, authenticates and rewrites requests.
// It shows the order they run in, and that a failing middleware on either
// side fails its call at once with an error that names it. It checks every
// result it shows and exits with status 1 if one is not what it expects.
//
//	go build -o bin/middleware-worker ./examples/middleware/worker
//	go run ./examples/middleware -worker bin/middleware-worker
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/middleware/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	workerPath := flag.String("worker", "bin/middleware-worker", "path to the worker binary")
	verbose := flag.Bool("v", false, "also show the worker middleware's debug records")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "middleware:", err)
		os.Exit(1)
	}
	c.Exit()
}

// traceParentRE is a W3C traceparent: version, trace id, parent id, flags.
var traceParentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)

func run(c *check.Checker, workerPath string, verbose bool) error {
	ctx := context.Background()
	level := hclog.Info
	if verbose {
		level = hclog.Debug
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: level, Output: os.Stdout})
	audit := &auditor{logger: logger, started: make(map[string]time.Time)}

	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath),
		Handshake: protocol.Handshake,
		Logger:    logger,
		LogLevel:  level,
		// A refused call must fail at once; this timeout only bounds a
		// call that would otherwise hang.
		CallTimeout: 5 * time.Second,
		// Left to right on the way out (request) and again left to right
		// on the way back (reply).
		Middleware: []shared.Middleware{
			stamp("trace", traceContext),
			stamp("auth", authorize(protocol.Token)),
			stamp("validate", validate),
			stamp("audit", audit.middleware),
		},
	})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Printf("1. started worker pid %d with 4 host middleware and 3 worker middleware\n", w.PID())

	res, err := host.Call(ctx, w, protocol.Greet, protocol.GreetReq{Name: "  ada   lovelace "})
	if err != nil {
		return err
	}
	fmt.Printf("2. greet(%q) -> %q: the worker's normalize middleware rewrote the request\n", "  ada   lovelace ", res.Greeting)
	fmt.Printf("3. order, left to right: host request through [%s]; worker reply through [%s]\n", res.HostVia, audit.lastWorkerVia())
	fmt.Printf("4. the handler saw the traceparent the host middleware added: %s\n", res.TraceParent)
	c.That(res.Greeting == "Hello, Ada Lovelace!", "2. greet -> %q, want %q", res.Greeting, "Hello, Ada Lovelace!")
	c.That(res.HostVia == "trace,auth,validate,audit", "3. host middleware order [%s], want [trace,auth,validate,audit]", res.HostVia)
	c.That(audit.lastWorkerVia() == "audit,auth,normalize", "3. worker middleware order [%s], want [audit,auth,normalize]", audit.lastWorkerVia())
	c.That(traceParentRE.MatchString(res.TraceParent), "4. the handler saw traceparent %q, want a W3C traceparent", res.TraceParent)

	// A caller's own trace context wins: traceContext only fills it in.
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	res, err = host.Call(shared.WithHeader(ctx, shared.TraceParentHeader, parent), w, protocol.Greet, protocol.GreetReq{Name: "grace"})
	if err != nil {
		return err
	}
	fmt.Printf("5. a caller's traceparent is kept: handler saw %s (same: %v)\n", res.TraceParent, res.TraceParent == parent)
	c.That(res.TraceParent == parent, "5. the handler saw traceparent %q, want the caller's %q", res.TraceParent, parent)

	// Host side: validate (index 2) refuses; audit (index 3) never runs and
	// nothing is sent.
	before := audit.count()
	t := time.Now()
	_, err = host.Call(ctx, w, protocol.Greet, protocol.GreetReq{Name: ""})
	me := &shared.MiddlewareError{Index: -1}
	isMW := errors.As(err, &me)
	fmt.Printf("6. (expected) host middleware refuses in %v: %v\n", since(t), err)
	fmt.Printf("   errors.As MiddlewareError: %v (index %d, %s); audit ran %d more times: later middleware did not run\n",
		isMW, me.Index, me.Direction, audit.count()-before)
	c.That(isMW && me.Index == 2 && me.Direction == shared.Outgoing, "6. empty name -> %v, want a MiddlewareError at index 2, outgoing", err)
	c.That(audit.count() == before, "6. audit ran %d more times after validate refused, want 0", audit.count()-before)

	// Worker side: a wrong credential (the auth middleware only fills in a
	// missing one) is refused by the worker's requireAuth (index 1) with an
	// error reply, at once, not after the 5 s CallTimeout.
	t = time.Now()
	_, err = host.Call(shared.WithHeader(ctx, protocol.AuthHeader, "Bearer wrong"), w, protocol.Greet, protocol.GreetReq{Name: "mallory"})
	re := &shared.RemoteError{}
	isRemote := errors.As(err, &re)
	fmt.Printf("7. (expected) worker middleware refuses in %v: %v\n", since(t), err)
	fmt.Printf("   errors.As RemoteError: %v (code %q)\n", isRemote, re.Code)
	// At once: the refusal is the worker's reply, not the CallTimeout.
	c.That(isRemote && re.Code == shared.CodeMiddleware && !errors.Is(err, context.DeadlineExceeded),
		"7. wrong credential -> %v, want a RemoteError with code %q", err, shared.CodeMiddleware)

	res, err = host.Call(ctx, w, protocol.Greet, protocol.GreetReq{Name: "alan"})
	fmt.Printf("8. the worker keeps serving: %q %v\n", res.Greeting, err)
	c.That(err == nil && res.Greeting == "Hello, Alan!", "8. greet -> %q, %v, want %q", res.Greeting, err, "Hello, Alan!")

	err = w.Close()
	fmt.Println("9. close:", err)
	c.NoError("9. Close", err)
	return nil
}

// traceContext adds a W3C traceparent to requests that have none, so the
// worker's handler (and its status events) can join the caller's trace.
func traceContext(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	if dir == shared.Outgoing && msg.Headers[shared.TraceParentHeader] == "" {
		setHeader(msg, shared.TraceParentHeader, newTraceParent())
	}
	return nil
}

// authorize adds the credential the worker checks, unless the caller set
// one.
func authorize(token string) shared.Middleware {
	return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir == shared.Outgoing && msg.Headers[protocol.AuthHeader] == "" {
			setHeader(msg, protocol.AuthHeader, token)
		}
		return nil
	}
}

// validate refuses a request before it leaves the host.
func validate(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	if req, ok := msg.Payload.(protocol.GreetReq); ok && dir == shared.Outgoing && req.Name == "" {
		return errors.New("greet: name must not be empty")
	}
	return nil
}

// auditor logs every message with its direction, kind, type and
// transaction id, and times each call from request to reply.
type auditor struct {
	logger hclog.Logger

	mu        sync.Mutex
	started   map[string]time.Time // by transaction id
	seen      int
	workerVia string
}

func (a *auditor) middleware(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen++
	args := []any{"direction", dir, "kind", msg.Kind, "type", msg.Type, "txid", msg.TxID}
	if dir == shared.Outgoing {
		a.started[msg.TxID] = time.Now()
	} else {
		a.workerVia = msg.Headers[protocol.WorkerVia]
		// A call that fails before its reply (a context deadline, a lost
		// connection) never comes back here; a real auditor would also
		// expire old entries.
		if t, ok := a.started[msg.TxID]; ok {
			delete(a.started, msg.TxID)
			args = append(args, "took", since(t))
		}
	}
	a.logger.Info("audit", args...)
	return nil
}

func (a *auditor) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen
}

func (a *auditor) lastWorkerVia() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.workerVia
}

// stamp wraps a middleware so that, when it lets a request through, its
// name is appended to the request's x-host-via header.
func stamp(name string, mw shared.Middleware) shared.Middleware {
	return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if err := mw(ctx, dir, msg); err != nil {
			return err
		}
		if dir == shared.Outgoing {
			v := name
			if old := msg.Headers[protocol.HostVia]; old != "" {
				v = old + "," + name
			}
			setHeader(msg, protocol.HostVia, v)
		}
		return nil
	}
}

// setHeader sets one header in place: the map a host middleware receives
// is its own copy for this call, never nil and never the caller's
// (shared.HeadersFrom), so no other call sees the change.
func setHeader(msg *shared.AnyMessage, key, value string) {
	msg.Headers[key] = value
}

func newTraceParent() string {
	var id [24]byte
	rand.Read(id[:])
	return "00-" + hex.EncodeToString(id[:16]) + "-" + hex.EncodeToString(id[16:]) + "-01"
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Microsecond) }
