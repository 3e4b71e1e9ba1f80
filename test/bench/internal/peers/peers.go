// Package peers starts the four benchmark peers as real worker processes
// and gives the workloads one client interface over them:
//
//	iw      isolated-workers (this project), default JSON serializer
//	netrpc  hashicorp/go-plugin over net/rpc
//	grpc    hashicorp/go-plugin over gRPC
//	rawmux  a minimal Go worker: a yamux session on a Unix socket,
//	        length-prefixed frames, lock-step on a stream (pipelined on
//	        another stream for many lanes)
//	raw     a minimal Go worker on a Unix socket with length-prefixed frames,
//	        lock-step on one connection (pipelined for many lanes)
//
// Every process a peer starts is recorded until its client is closed, so a
// harness that is interrupted can kill what is left (KillAll).
package peers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Client is a started worker.
//
// Ping, PingStruct and Echo are safe for concurrent use. The raw peer's
// Ping and Echo run in lock-step (one request on its connection at a time);
// its Pipelined caller is the one for concurrent workloads.
type Client interface {
	// Ping sends a small []byte payload and returns the worker's copy.
	Ping(ctx context.Context, b []byte) ([]byte, error)
	// PingStruct sends a one-string struct through the peer's own
	// serializer (JSON, gob, protobuf). ErrUnsupported for raw and rawmux.
	PingStruct(ctx context.Context, s string) (string, error)
	// Echo sends a []byte payload of any size and returns the copy.
	Echo(ctx context.Context, b []byte) ([]byte, error)
	// PID is the worker's process id.
	PID() int
	// Close stops the worker and waits until its process has exited.
	Close() error
}

// Caller is what the concurrency workload calls.
type Caller interface {
	Ping(ctx context.Context, b []byte) ([]byte, error)
}

// Pipeliner is implemented by clients whose plain Ping is lock-step and
// that have a separate caller for many requests in flight.
type Pipeliner interface {
	Pipelined() (Caller, error)
}

// ConcurrentCaller returns the caller a concurrent workload should use.
func ConcurrentCaller(c Client) (Caller, error) {
	if p, ok := c.(Pipeliner); ok {
		return p.Pipelined()
	}
	return c, nil
}

// ErrUnsupported is returned by a peer for a call it does not have.
var ErrUnsupported = errors.New("not supported by this peer")

// Options tune how a peer's worker is started.
type Options struct {
	// WorkerCPUProfile, for iw only, makes the worker write its CPU profile
	// to this file until it exits.
	WorkerCPUProfile string
	// WorkerTrace, for iw and rawmux, makes the worker write its execution trace
	// (runtime/trace) to this file until it exits.
	WorkerTrace string
}

// Peer is one side of the comparison.
type Peer struct {
	// Name is the short name used in flags and JSON: iw, netrpc, grpc, rawmux, raw.
	Name string
	// Title is the column header.
	Title string
	// Binary is the worker's file name in the build directory.
	Binary string
	start  func(ctx context.Context, bin string, opt Options) (Client, error)
}

// Start launches the peer's worker from the binaries in w and returns a
// client connected to it. ctx bounds the start only.
func (p Peer) Start(ctx context.Context, w *Workers, opt Options) (Client, error) {
	c, err := p.start(ctx, w.Path(p.Binary), opt)
	if err != nil {
		return nil, fmt.Errorf("start %s worker: %w", p.Name, err)
	}
	return c, nil
}

// All returns the peers in table order: this project first.
func All() []Peer {
	return []Peer{
		{Name: "iw", Title: "isolated-workers", Binary: "iw", start: startIW},
		{Name: "netrpc", Title: "go-plugin net/rpc", Binary: "netrpc", start: startNetRPC},
		{Name: "grpc", Title: "go-plugin gRPC", Binary: "grpc", start: startGRPC},
		{Name: "rawmux", Title: "raw UDS yamux", Binary: "rawmux", start: startRawMux},
		{Name: "raw", Title: "raw UDS lock-step", Binary: "raw", start: startRaw},
	}
}

// Select returns the peers named in a comma-separated list, in table order;
// "" or "all" means every peer.
func Select(list string) ([]Peer, error) {
	all := All()
	if list == "" || list == "all" {
		return all, nil
	}
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	var out []Peer
	for _, p := range all {
		if slices.Contains(names, p.Name) {
			out = append(out, p)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(p Peer) bool { return p.Name == n }) {
			return nil, fmt.Errorf("unknown peer %q (peers: iw, netrpc, grpc, rawmux, raw)", n)
		}
	}
	return out, nil
}
