package queue

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Defaults for Config and ConsumerConfig; a zero field means its default.
const (
	// DefaultName prefixes every stream, bucket and subject the queue
	// uses: streams IW_JOBS and IW_DEAD, buckets iw-status and iw-attempts,
	// subjects iw.jobs.<type>, iw.status.<job>, iw.dead.<job>.
	DefaultName = "iw"

	// DefaultDuplicateWindow is how long the engine remembers job IDs: a
	// second Enqueue of the same ID within it is rejected (ErrDuplicate).
	// JetStream's own default, long enough for any client retry loop.
	DefaultDuplicateWindow = 2 * time.Minute

	// DefaultDeadLetterMaxEntries bounds the dead-letter stream; the
	// oldest entry is dropped when it is full (as action.DeadLetter).
	DefaultDeadLetterMaxEntries = 1000

	// DefaultDeadLetterRetention is how long a dead letter is kept.
	DefaultDeadLetterRetention = 7 * 24 * time.Hour

	// DefaultStatusTTL is how long a job's latest status stays in the
	// status bucket after its last change: long enough for an operator to
	// look, short enough that the bucket does not grow without bound.
	DefaultStatusTTL = 24 * time.Hour

	// DefaultStartTimeout bounds the start of the embedded server and the
	// first connection to an external cluster.
	DefaultStartTimeout = 30 * time.Second

	// DefaultCloseTimeout bounds how long Close waits for status updates
	// still in flight to be stored.
	DefaultCloseTimeout = 5 * time.Second
)

// DefaultStoreDir returns the embedded server's default JetStream
// directory: <os.UserCacheDir()>/isolated-workers/queue, for example
// ~/.cache/isolated-workers/queue on Linux and
// ~/Library/Caches/isolated-workers/queue on macOS.
func DefaultStoreDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("queue: default store directory: %w (set Config.StoreDir)", err)
	}
	return filepath.Join(dir, "isolated-workers", "queue"), nil
}

// Config configures Open. The zero value runs an embedded server storing
// in DefaultStoreDir.
type Config struct {
	// URLs of an external NATS cluster with JetStream enabled. When set,
	// no server is embedded and StoreDir is not used; everything else
	// works the same.
	URLs []string

	// CredentialsFile is a NATS credentials (.creds) file for URLs.
	CredentialsFile string

	// TLS configures TLS to URLs. nil means the client's default (TLS
	// only when a URL says tls://).
	TLS *tls.Config

	// NATSOptions are passed to nats.Connect after the queue's own (an
	// external cluster's user, token, name, reconnect policy).
	NATSOptions []nats.Option

	// StoreDir is where the embedded server keeps its streams. "" means
	// DefaultStoreDir(). The directory is created if needed. Two
	// processes must not embed a server on one StoreDir at a time.
	StoreDir string

	// ConfigureServer, if set, adjusts the embedded server's options
	// before it starts: cluster routes, a listening port, a server name.
	// The queue sets JetStream, StoreDir, DontListen (unless a port is
	// wanted: set DontListen false here) and NoSigs first.
	ConfigureServer func(*server.Options)

	// Name prefixes the streams, buckets and subjects (see DefaultName).
	// Letters, digits, '-' and '_' only.
	Name string

	// Replicas is the number of copies of each stream and bucket in a
	// cluster. 0 means 1; use 3 on a three-node cluster.
	Replicas int

	// DuplicateWindow: see DefaultDuplicateWindow.
	DuplicateWindow time.Duration

	// DeadLetterMaxEntries and DeadLetterRetention bound the dead-letter
	// stream (its MaxMsgs and MaxAge). See the defaults.
	DeadLetterMaxEntries int
	DeadLetterRetention  time.Duration

	// StatusTTL: see DefaultStatusTTL.
	StatusTTL time.Duration

	// StartTimeout: see DefaultStartTimeout.
	StartTimeout time.Duration

	// CloseTimeout: see DefaultCloseTimeout.
	CloseTimeout time.Duration

	// Logger receives the queue's logs. nil means none.
	Logger hclog.Logger
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Name != "" && !validName(c.Name):
		return fmt.Errorf("queue: Name %q: use letters, digits, '-' and '_' only", c.Name)
	case c.Replicas < 0:
		return fmt.Errorf("queue: Replicas must not be negative, got %d", c.Replicas)
	case c.DuplicateWindow < 0:
		return fmt.Errorf("queue: DuplicateWindow must not be negative, got %v", c.DuplicateWindow)
	case c.DeadLetterMaxEntries < 0:
		return fmt.Errorf("queue: DeadLetterMaxEntries must not be negative, got %d", c.DeadLetterMaxEntries)
	case c.DeadLetterRetention < 0:
		return fmt.Errorf("queue: DeadLetterRetention must not be negative, got %v", c.DeadLetterRetention)
	case c.StatusTTL < 0:
		return fmt.Errorf("queue: StatusTTL must not be negative, got %v", c.StatusTTL)
	case c.StartTimeout < 0:
		return fmt.Errorf("queue: StartTimeout must not be negative, got %v", c.StartTimeout)
	case c.CloseTimeout < 0:
		return fmt.Errorf("queue: CloseTimeout must not be negative, got %v", c.CloseTimeout)
	case len(c.URLs) > 0 && c.StoreDir != "":
		return errors.New("queue: set URLs (an external cluster) or StoreDir (an embedded server), not both")
	case len(c.URLs) > 0 && c.ConfigureServer != nil:
		return errors.New("queue: ConfigureServer configures the embedded server; it cannot be used with URLs")
	}
	for i, u := range c.URLs {
		if strings.TrimSpace(u) == "" {
			return fmt.Errorf("queue: URLs[%d] is empty", i)
		}
	}
	return nil
}

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.DeadLetterMaxEntries == 0 {
		c.DeadLetterMaxEntries = DefaultDeadLetterMaxEntries
	}
	if c.DeadLetterRetention == 0 {
		c.DeadLetterRetention = DefaultDeadLetterRetention
	}
	if c.StatusTTL == 0 {
		c.StatusTTL = DefaultStatusTTL
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if len(c.URLs) == 0 && c.StoreDir == "" {
		dir, err := DefaultStoreDir()
		if err != nil {
			return c, err
		}
		c.StoreDir = dir
	}
	return c, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
