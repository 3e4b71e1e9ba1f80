// Package plugintest runs a worker in the test's own process, so handlers
// can be unit-tested through the real protocol (handshake, serializer,
// middleware, yamux over a Unix socket) without building a binary.
//
//	w, err := plugintest.Start(ctx, plugin.Config{Handshake: hs, Handlers: ...}, host.Config{Handshake: hs})
//	if err != nil { t.Fatal(err) }
//	defer w.Close()
//	res, err := host.Call(ctx, w, Compute, req)
//
// Functions here return errors rather than failing a test, so they work in
// any test framework.
package plugintest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Worker is an in-process worker and the host's connection to it.
type Worker struct {
	*host.Worker
	dir    string
	cancel context.CancelFunc
	done   chan error
}

// Start serves wcfg on a goroutine and connects a host configured by hcfg
// (hcfg.Cmd is ignored). The worker stops when Close is called.
func Start(ctx context.Context, wcfg plugin.Config, hcfg host.Config) (*Worker, error) {
	dir, err := os.MkdirTemp("", "iwt-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "s")
	var tok [16]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	ser := hcfg.Serializer
	if ser == nil {
		ser = shared.JSON{}
	}
	r, pw, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer r.Close()
	fd, err := dupFile(pw) // the worker closes its own copy
	pw.Close()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range (handshakewire.Env{
		SocketPath: sock, Serializer: ser.Name(), ProtocolVersions: hcfg.Handshake.Versions(),
		AuthToken: token, ReadyFD: fd,
	}).Encode(hcfg.Handshake) {
		k, v, _ := cut(kv)
		env[k] = v
	}
	wcfg.Getenv = func(k string) string { return env[k] }
	sctx, cancel := context.WithCancel(context.Background())
	w := &Worker{dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- plugin.ServeContext(sctx, wcfg) }()

	line := make([]byte, handshakewire.MaxReadyLine)
	n, _ := r.Read(line)
	version, _, err := handshakewire.ParseReady(string(line[:n]))
	if err != nil {
		cancel()
		serveErr := <-w.done
		os.RemoveAll(dir)
		return nil, fmt.Errorf("plugintest: worker did not start: %w", errors.Join(err, serveErr))
	}
	hw, err := host.Attach(ctx, host.ReattachConfig{
		Name: hcfg.Name, SocketPath: sock, PID: os.Getpid(), ProtocolVersion: version,
		Serializer: ser.Name(), AuthToken: token,
	}, hcfg)
	if err != nil {
		cancel()
		<-w.done
		os.RemoveAll(dir)
		return nil, err
	}
	w.Worker = hw
	return w, nil
}

// Close closes the host's side, stops the worker and returns the worker's
// ServeContext result.
func (w *Worker) Close() error {
	err := w.Worker.Close()
	w.cancel()
	serveErr := <-w.done
	w.done <- serveErr // Close is idempotent
	os.RemoveAll(w.dir)
	return errors.Join(err, serveErr)
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
