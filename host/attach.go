package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/isolated-workers/isolated-workers-go/handshake"
)

// ReattachConfig is what a new host process needs to take over a running
// worker: write it with WriteFile (mode 0600: it holds the auth token, a
// secret) and read it back with ReadReattachConfig.
type ReattachConfig struct {
	Name            string `json:"name"`
	SocketPath      string `json:"socketPath"`
	PID             int    `json:"pid"`
	ProtocolVersion int    `json:"protocolVersion"`
	Serializer      string `json:"serializer"`
	AuthToken       string `json:"authToken"`
}

// ReattachConfig returns what Attach needs to take over this worker.
func (w *Worker) ReattachConfig() ReattachConfig {
	return ReattachConfig{
		Name: w.cfg.Name, SocketPath: w.socketPath, PID: w.pid,
		ProtocolVersion: w.version, Serializer: w.cfg.Serializer.Name(), AuthToken: w.token,
	}
}

// WriteFile writes rc as JSON to path with mode 0600.
func (rc ReattachConfig) WriteFile(path string) error {
	b, err := json.MarshalIndent(rc, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return errors.Join(err, f.Close())
}

// ReadReattachConfig reads a file written by ReattachConfig.WriteFile.
func ReadReattachConfig(path string) (ReattachConfig, error) {
	var rc ReattachConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return rc, err
	}
	if err := json.Unmarshal(b, &rc); err != nil {
		return rc, fmt.Errorf("reattach config %s: %w", path, err)
	}
	return rc, nil
}

// Attach connects a new host to a running worker, typically one started
// with Detached by another host process that has since exited. The worker
// must use plugin.KeepAlive and have no other host connected. cfg.Cmd is
// ignored; Handshake, Serializer and the rest apply as for Start. Records
// the worker logged and events it emitted while no host was connected are
// delivered to this host.
//
// A config whose worker is gone, or whose pid now belongs to another
// process, gives an error wrapping ErrStaleReattach; no process is ever
// signalled on the config's word alone.
func Attach(ctx context.Context, rc ReattachConfig, cfg Config) (*Worker, error) {
	cfg.Cmd = nil
	if cfg.SecureConfig != nil {
		return nil, errors.New("host: Attach with a SecureConfig: an attached worker is already running and its executable cannot be verified; clear SecureConfig to attach")
	}
	if cfg.Name == "" {
		cfg.Name = rc.Name
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if rc.Serializer != cfg.Serializer.Name() {
		return nil, fmt.Errorf("attach worker %q: %w", cfg.Name, &handshake.SerializerMismatchError{Host: cfg.Serializer.Name(), Worker: rc.Serializer})
	}
	if rc.SocketPath == "" || rc.PID <= 0 || rc.AuthToken == "" || rc.ProtocolVersion <= 0 {
		return nil, fmt.Errorf("attach worker %q: reattach config is incomplete (socket path, pid, protocol version and auth token are required)", cfg.Name)
	}
	if !pidAlive(rc.PID) {
		return nil, fmt.Errorf("attach worker %q: %w: no process with pid %d", cfg.Name, ErrStaleReattach, rc.PID)
	}
	if _, err := os.Stat(rc.SocketPath); err != nil {
		return nil, fmt.Errorf("attach worker %q: %w: socket %s: %v", cfg.Name, ErrStaleReattach, rc.SocketPath, err)
	}
	w := newWorker(cfg)
	w.socketPath, w.token, w.version = rc.SocketPath, rc.AuthToken, rc.ProtocolVersion
	ctx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	c, err := w.connect(ctx)
	if err != nil {
		if isConnRefused(err) {
			// Nothing listens on the socket: the worker that made it
			// was killed (a worker that exits removes its socket), and
			// the live process with its pid is someone else. It is never
			// signalled.
			return nil, fmt.Errorf("attach worker %q: %w: pid %d is alive but socket %s refuses connections: the worker is gone and the pid was reused (%v)",
				cfg.Name, ErrStaleReattach, rc.PID, rc.SocketPath, err)
		}
		return nil, fmt.Errorf("attach worker %q (pid %d): %w", cfg.Name, rc.PID, err)
	}
	if c.hello.PID != rc.PID {
		c.Close(ErrStaleReattach)
		return nil, fmt.Errorf("attach worker %q: %w: socket %s is served by pid %d, not %d",
			cfg.Name, ErrStaleReattach, rc.SocketPath, c.hello.PID, rc.PID)
	}
	w.pid = rc.PID
	if dir := filepath.Dir(rc.SocketPath); strings.HasPrefix(filepath.Base(dir), "iw-") {
		w.dir = dir // the launching host's private directory; Close removes it
	}
	if err := w.install(c); err != nil {
		return nil, err
	}
	return w, nil
}
