package host

import (
	"cmp"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/peer"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// Defaults for Config fields left zero.
const (
	DefaultStartupTimeout  = 30 * time.Second
	DefaultGracePeriod     = 2 * time.Second
	DefaultConnectAttempts = 5
	DefaultConnectDelay    = 20 * time.Millisecond
	DefaultConnectMaxDelay = 5 * time.Second
	DefaultMaxFrameSize    = 16 << 20
	DefaultMaxRawSize      = 256 << 20
	DefaultStderrTail      = 4 << 10
)

// Connection is the retry policy for dialing the worker's socket, at start-up
// and on Reconnect. The n-th retry (from 0) waits Delay·2^n with full jitter,
// or DelayFunc(n) when set, capped by MaxDelay.
type Connection struct {
	// Attempts is the number of dials in all (default 5).
	Attempts int
	// Delay is the base delay between dials (default 20 ms).
	Delay time.Duration
	// DelayFunc, when set, gives the delay before retry n (0-based). A
	// negative result fails with "delay function must return a
	// non-negative duration".
	DelayFunc func(attempt int) time.Duration
	// MaxDelay caps every delay (default 5 s).
	MaxDelay time.Duration
}

// Config configures a worker launched by Start or attached by Attach. The
// zero value of every field means its default.
type Config struct {
	// Cmd is the worker executable to start. Its Args, Env, Dir, Stdin,
	// Stdout, Stderr and ExtraFiles stay the caller's: Start adds the
	// handshake variables to Env (os.Environ() when Env is nil), appends the
	// ready pipe to ExtraFiles, and puts the process in its own process
	// group (its own session when Detached). Stdout and Stderr, when nil,
	// are captured line by line into Logger. Ignored by Attach.
	Cmd *exec.Cmd
	// Handshake must equal the worker's.
	Handshake handshake.Config
	// Name names the worker in errors and as the sub-logger of its records.
	// Default: the base name of Cmd.Path.
	Name string
	// Serializer must have the worker's name. Default shared.JSON.
	Serializer shared.Serializer
	// Logger receives the host's records and, as a sub-logger named after
	// the worker, the worker's. Default: hclog to stderr at LogLevel.
	Logger hclog.Logger
	// LogLevel filters records (default Warn). The worker follows it unless
	// it sets its own.
	LogLevel hclog.Level
	// Middleware sees every request (Outgoing) and every call's end
	// (Incoming: the reply, or the error a call failed with in the host),
	// left to right; see Call. It also sees the worker's calls to the host
	// that Handlers serve: the request (Incoming) and the reply (Outgoing).
	Middleware []shared.Middleware
	// Handlers serve the messages a worker calls on the host
	// (plugin.CallHost), made with Handle and Handlers. Default: none; a
	// worker's call is answered with shared.CodeUnknownMessage.
	Handlers HandlerSet
	// TxIDGenerator gives each call its transaction id (default
	// shared.UUIDv4).
	TxIDGenerator shared.TxIDGenerator
	// StartupTimeout bounds spawn to hello (default 30 s).
	StartupTimeout time.Duration
	// CallTimeout is the default deadline of a call whose message has no
	// timeout of its own. Zero means none; a context deadline that is
	// earlier always wins.
	CallTimeout time.Duration
	// GracePeriod is how long Close waits for the worker to exit after
	// asking it to, before killing its process group (default 2 s).
	GracePeriod time.Duration
	// Connection is the dial retry policy.
	Connection Connection
	// Detached starts the worker in its own session, with stdio not tied to
	// the host, so it outlives the host process. Attach to it later from a
	// ReattachConfig. Pair it with plugin.KeepAlive on the worker.
	Detached bool
	// MaxFrameSize bounds one frame (default 16 MiB); MaxRawSize one raw
	// []byte payload (default 256 MiB).
	MaxFrameSize int
	MaxRawSize   int
	// OnEvent receives the events the worker emits, on the goroutine that
	// reads them, in order; it must not block for long: while it runs, the
	// worker's Emit waits (backpressure), and a Call returns only after
	// OnEvent took the events its handler emitted. It also receives the
	// worker's drop notices (shared.DroppedEvent; see Worker.Dropped).
	OnEvent func(ReceivedEvent)
	// Status receives the status events (shared/status) the worker emits,
	// for example a *statushub.Hub (package host/statushub).
	Status status.Publisher
	// SecureConfig, when set, makes Start refuse to run a worker executable
	// whose checksum differs (a *ChecksumError). See SecureConfig for what
	// it does and does not protect against. Attach refuses it.
	SecureConfig *SecureConfig
	// UnixSocket places the private socket directory (default: in
	// os.TempDir(), falling back to /tmp) and can give it to a group.
	UnixSocket UnixSocketConfig
	// Runner, when set, rewrites the worker's command just before Start
	// starts it, to run the worker under a wrapper or a sandbox. See Runner
	// for what it must preserve. Ignored by Attach.
	Runner Runner
}

func (c *Config) setDefaults() {
	if c.Serializer == nil {
		c.Serializer = shared.JSON{}
	}
	if c.TxIDGenerator == nil {
		c.TxIDGenerator = shared.UUIDv4
	}
	if c.LogLevel == hclog.NoLevel {
		c.LogLevel = hclog.Warn
	}
	if c.Name == "" && c.Cmd != nil {
		c.Name = baseName(c.Cmd.Path)
	}
	if c.Name == "" {
		c.Name = "worker"
	}
	c.StartupTimeout = cmp.Or(c.StartupTimeout, DefaultStartupTimeout)
	c.GracePeriod = cmp.Or(c.GracePeriod, DefaultGracePeriod)
	c.Connection.Attempts = cmp.Or(c.Connection.Attempts, DefaultConnectAttempts)
	c.Connection.Delay = cmp.Or(c.Connection.Delay, DefaultConnectDelay)
	c.Connection.MaxDelay = cmp.Or(c.Connection.MaxDelay, DefaultConnectMaxDelay)
	c.MaxFrameSize = cmp.Or(c.MaxFrameSize, DefaultMaxFrameSize)
	c.MaxRawSize = cmp.Or(c.MaxRawSize, DefaultMaxRawSize)
}

// Validate reports the first problem with the config. Start and Attach
// call it.
func (c Config) Validate() error {
	if err := peer.CheckConfig(c.Handshake, c.Serializer); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"StartupTimeout", c.StartupTimeout}, {"CallTimeout", c.CallTimeout}, {"GracePeriod", c.GracePeriod},
		{"Connection.Delay", c.Connection.Delay}, {"Connection.MaxDelay", c.Connection.MaxDelay},
	} {
		if d.v < 0 {
			return fmt.Errorf("host: %s %v is negative", d.name, d.v)
		}
	}
	if c.Connection.Attempts < 0 {
		return fmt.Errorf("host: Connection.Attempts %d is negative", c.Connection.Attempts)
	}
	if c.MaxFrameSize < 0 || c.MaxRawSize < 0 {
		return errors.New("host: MaxFrameSize and MaxRawSize must not be negative")
	}
	if err := c.Handlers.Err(); err != nil {
		return err
	}
	if c.SecureConfig != nil {
		if err := c.SecureConfig.Validate(); err != nil {
			return err
		}
	}
	return c.UnixSocket.Validate()
}
