package plugin

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// DisconnectBehavior says what a worker does when its host disconnects.
type DisconnectBehavior int

const (
	// ExitOnDisconnect (the default): exit when the host disconnects or dies, so
	// no worker is ever orphaned.
	ExitOnDisconnect DisconnectBehavior = iota
	// KeepAlive: keep listening for a new host (host.Worker.Reconnect or
	// host.Attach), for at most HostConnectTimeout.
	KeepAlive
)

func (b DisconnectBehavior) String() string {
	if b == KeepAlive {
		return handshakewire.BehaviorKeepAlive
	}
	return handshakewire.BehaviorExit
}

// Defaults.
const (
	DefaultHostConnectTimeout = 30 * time.Second
	DefaultMaxFrameSize       = 16 << 20
	DefaultMaxRawSize         = 256 << 20
	DefaultLogBuffer          = 1024
	// DefaultStopGrace: how long a stopping worker waits for the handlers
	// it cancelled. Long enough for a handler to finish a write or roll
	// back; short enough that a worker whose host died is gone soon.
	DefaultStopGrace = 10 * time.Second
	DefaultLogWait   = time.Second
)

// Config configures a worker. The zero value of every field means its
// default.
type Config struct {
	// Handshake must equal the host's.
	Handshake handshake.Config
	// Handlers serve every version in Handshake.ProtocolVersions.
	Handlers HandlerSet
	// VersionedHandlers serve a different handler set per protocol
	// version; its keys are added to the versions the worker speaks and
	// override Handlers for that version.
	VersionedHandlers map[int]HandlerSet
	// Serializer must have the host's name. Default shared.JSON.
	Serializer shared.Serializer
	// Logger receives the worker's own log records, through a meta-logger
	// that filters by LogLevel and survives a logger that panics. Default: records are
	// forwarded to the host's logger (buffered while no host is connected).
	Logger hclog.Logger
	// LogLevel filters the worker's records. Default: the level of the
	// host's logger, learned in the hello (Info until then).
	LogLevel hclog.Level
	// Middleware sees every request (Incoming) and reply (Outgoing), left to
	// right; and the worker's calls to the host (CallHost): the request
	// (Outgoing) and the call's end (Incoming), as host.Config.Middleware
	// does for the host's calls.
	Middleware []shared.Middleware
	// TxIDGenerator gives each of the worker's calls to the host
	// (CallHost) its transaction id; events carry the id of the call that
	// emitted them. Default shared.UUIDv4.
	TxIDGenerator shared.TxIDGenerator
	// HostConnectTimeout bounds the wait for a host, at start-up and, with
	// KeepAlive, after each disconnect; then the worker exits cleanly with
	// status 0. nil means 30 s; a pointer to 0 waits forever (see
	// shared.Duration).
	HostConnectTimeout *time.Duration
	// DisconnectBehavior: ExitOnDisconnect (default) or KeepAlive.
	DisconnectBehavior DisconnectBehavior
	// MaxFrameSize bounds one frame (default 16 MiB); MaxRawSize one raw
	// []byte payload (default 256 MiB).
	MaxFrameSize int
	MaxRawSize   int
	// Getenv replaces os.Getenv for reading the handshake variables, to
	// serve in-process (see plugin/plugintest). Default os.Getenv.
	Getenv func(string) string
	// LogBuffer is how many log records and, separately, events wait for
	// the host (default 1024). While a host is connected, a full queue slows
	// the producer down (see Emit and LogWait); while none is, the oldest
	// are dropped. Every drop is counted (Dropped) and the host is told
	// (shared.DroppedEvent).
	LogBuffer int
	// StopGrace bounds how long a stopping worker (its host gone, asked to
	// stop, or its context cancelled) waits for the handlers it cancelled
	// to return (default 10 s). Handlers still running then are named in a
	// *StuckHandlersError, and Serve exits with ExitStuckHandlers.
	StopGrace time.Duration
	// LogWait bounds how long a log call waits for room while the host is
	// connected but slow (default 1 s); then the record is dropped and
	// counted, and log calls drop at once until the host takes records
	// again. Emit instead waits up to its handler's context.
	LogWait time.Duration
}

func (c *Config) setDefaults() {
	if c.Serializer == nil {
		c.Serializer = shared.JSON{}
	}
	if c.TxIDGenerator == nil {
		c.TxIDGenerator = shared.UUIDv4
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.HostConnectTimeout == nil {
		c.HostConnectTimeout = shared.Duration(DefaultHostConnectTimeout)
	}
	c.MaxFrameSize = cmp.Or(c.MaxFrameSize, DefaultMaxFrameSize)
	c.MaxRawSize = cmp.Or(c.MaxRawSize, DefaultMaxRawSize)
	c.LogBuffer = cmp.Or(c.LogBuffer, DefaultLogBuffer)
	c.StopGrace = cmp.Or(c.StopGrace, DefaultStopGrace)
	c.LogWait = cmp.Or(c.LogWait, DefaultLogWait)
}

// Validate reports the first problem with the config.
func (c Config) Validate() error {
	if err := peer.CheckConfig(c.Handshake, c.Serializer); err != nil {
		return err
	}
	if c.HostConnectTimeout != nil && *c.HostConnectTimeout < 0 {
		return fmt.Errorf("plugin: HostConnectTimeout %v is negative", *c.HostConnectTimeout)
	}
	if c.StopGrace < 0 {
		return fmt.Errorf("plugin: StopGrace %v is negative", c.StopGrace)
	}
	if c.MaxFrameSize < 0 || c.MaxRawSize < 0 || c.LogBuffer < 0 {
		return errors.New("plugin: MaxFrameSize, MaxRawSize and LogBuffer must not be negative")
	}
	if c.LogWait < 0 {
		return fmt.Errorf("plugin: LogWait %v is negative", c.LogWait)
	}
	if c.DisconnectBehavior != ExitOnDisconnect && c.DisconnectBehavior != KeepAlive {
		return fmt.Errorf("plugin: unknown DisconnectBehavior %d", c.DisconnectBehavior)
	}
	if err := c.Handlers.Err(); err != nil {
		return err
	}
	for v, hs := range c.VersionedHandlers {
		if v < 1 {
			return fmt.Errorf("plugin: VersionedHandlers has protocol version %d; versions start at 1", v)
		}
		if err := hs.Err(); err != nil {
			return fmt.Errorf("plugin: version %d: %w", v, err)
		}
	}
	return nil
}

// versions returns the protocol versions the worker speaks.
func (c Config) versions() []int {
	vs := c.Handshake.Versions()
	if len(c.VersionedHandlers) > 0 {
		if len(c.Handshake.ProtocolVersions) == 0 {
			vs = nil
		}
		vs = append(vs, slices.Collect(maps.Keys(c.VersionedHandlers))...)
	}
	slices.Sort(vs)
	return slices.Compact(vs)
}

// handlersFor returns the handler set for a negotiated version.
func (c Config) handlersFor(v int) HandlerSet {
	if hs, ok := c.VersionedHandlers[v]; ok {
		return hs
	}
	return c.Handlers
}
