package host

import (
	"cmp"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"go.opentelemetry.io/otel/metric"
)

// Defaults for PoolConfig fields left zero, and why.
const (
	// DefaultPoolMaxQueue bounds the calls waiting for a worker: enough to
	// ride out a replacement under load, small enough that a pool that
	// cannot keep up says so (ErrPoolQueueFull) instead of hoarding calls.
	DefaultPoolMaxQueue = 1024
	// DefaultRestartDelay and DefaultRestartMaxDelay: the backoff of a
	// worker that keeps crashing (Kubernetes' crash-loop schedule, scaled
	// to processes that start in tens of milliseconds).
	DefaultRestartDelay    = 100 * time.Millisecond
	DefaultRestartMaxDelay = 30 * time.Second
	// DefaultRestartReset: a worker that ran this long healthy was not in a
	// crash loop; its replacement starts at once again.
	DefaultRestartReset = 60 * time.Second
	// DefaultMaxRestarts in DefaultRestartWindow: the intensity limit
	// (Erlang/OTP supervisors, systemd StartLimitBurst). Past it the pool
	// fails instead of crash-looping.
	DefaultMaxRestarts   = 5
	DefaultRestartWindow = 30 * time.Second
	// DefaultHealthInterval and DefaultHealthFailures: a stuck worker is
	// replaced in about 30 s, and a ping every 10 s costs nothing.
	DefaultHealthInterval = 10 * time.Second
	DefaultHealthFailures = 3
	// DefaultIdleTimeout: how long a worker above Min stays idle before a
	// Min/Max pool stops it.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultDrainTimeout bounds how long a worker being retired (recycled,
	// replaced, resized away, Close) may take to finish its calls.
	DefaultDrainTimeout = 30 * time.Second
)

// PoolConfig configures a Pool. The zero value of every field means its
// default.
type PoolConfig struct {
	// Worker configures every worker. Its Cmd is a template: an exec.Cmd
	// runs once, so each worker gets a new command with Cmd's Path, Args,
	// Env and Dir (not its stdio or ExtraFiles: use NewCmd for those). Its
	// Name names the pool; workers are named NAME-1, NAME-2, ...
	Worker Config
	// NewCmd, when set, returns the command of each new worker instead of
	// a copy of Worker.Cmd.
	NewCmd func() *exec.Cmd

	// Size is the number of workers (default 1). Min and Max, when Max is
	// set, make the size elastic instead: the pool starts Min workers,
	// adds one (up to Max) whenever a call has to queue, and stops one
	// that was idle for IdleTimeout while more than Min run.
	Size        int
	Min, Max    int
	IdleTimeout time.Duration
	// Spares is the number of started workers held in reserve (default 0):
	// a worker that dies is replaced at once by a spare, and a new spare
	// starts in the background.
	Spares int

	// MaxInFlight limits the calls one worker runs at once (default 0:
	// unlimited). MaxQueue bounds the calls waiting for a worker (default
	// DefaultPoolMaxQueue; negative: unlimited); a call past it fails at
	// once with ErrPoolQueueFull.
	MaxInFlight int
	MaxQueue    int

	// Restart is the backoff between replacements of a worker that keeps
	// dying (one count per worker slot): the first replacement starts at
	// once, the n-th in a row (n >= 2) after Restart.Delay(n-2): BaseDelay
	// (default 100 ms) doubling to MaxDelay (default 30 s), with full
	// jitter. Only the delay fields of the policy are used. RestartReset
	// (default 60 s) is how long a worker must run for the count to start
	// again.
	Restart      retry.Policy
	RestartReset time.Duration
	// MaxRestarts in RestartWindow is the intensity limit (default 5 in
	// 30 s; negative MaxRestarts: no limit). Restarts after a crash, a
	// failed health check or a failed start count; recycling does not.
	// Past the limit the pool fails: calls fail with a *PoolFailedError
	// (errors.Is ErrPoolFailed), State is PoolFailed, OnEvent gets
	// EventPoolFailed, and its workers are stopped.
	MaxRestarts   int
	RestartWindow time.Duration

	// HealthInterval is how often an idle worker is pinged (default 10 s;
	// negative: never), and HealthFailures how many pings in a row may go
	// unanswered (default 3) before the worker is marked unhealthy, killed
	// and replaced. A worker that answered a call since the last check is
	// not pinged. The ping is the connection's own (yamux) ping: it proves
	// that the worker process runs and reads its socket, not that every
	// handler is free.
	HealthInterval time.Duration
	HealthFailures int
	// MaxMemory (bytes of resident memory, checked every HealthInterval;
	// 0: no limit) and MaxCalls (calls dispatched to one worker; 0: no
	// limit) recycle a worker: it gets no new calls, finishes the ones it
	// runs, and is replaced. No call fails.
	MaxMemory uint64
	MaxCalls  int
	// DrainTimeout bounds how long a retired worker may take to finish its
	// calls before it is closed (default 30 s).
	DrainTimeout time.Duration

	// OnEvent receives what the supervisor did (see PoolEvent), in order,
	// on a goroutine of the pool's; it must not block for long.
	OnEvent func(PoolEvent)

	// MeterProvider makes the meter of the pool's OpenTelemetry
	// instruments (MetricWorkers and the other Metric* names; default:
	// otel.GetMeterProvider(), which records nothing until the program
	// sets one).
	MeterProvider metric.MeterProvider
}

// Validate reports the first problem with the config.
func (c PoolConfig) Validate() error {
	if c.Worker.Cmd == nil && c.NewCmd == nil {
		return errors.New("host: PoolConfig needs Worker.Cmd or NewCmd: set it to the worker executable, e.g. exec.Command(\"./worker\")")
	}
	wc := c.Worker
	if wc.Detached {
		return errors.New("host: PoolConfig.Worker.Detached: a pool's workers cannot be detached")
	}
	if err := wc.Validate(); err != nil {
		return err
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"Size", c.Size}, {"Min", c.Min}, {"Max", c.Max}, {"Spares", c.Spares}, {"MaxInFlight", c.MaxInFlight}, {"MaxCalls", c.MaxCalls}, {"HealthFailures", c.HealthFailures}} {
		if n.v < 0 {
			return fmt.Errorf("host: PoolConfig.%s %d is negative", n.name, n.v)
		}
	}
	if c.Max > 0 && c.Min > c.Max {
		return fmt.Errorf("host: PoolConfig.Min %d is above Max %d", c.Min, c.Max)
	}
	if c.Max > 0 && c.Size > 0 {
		return errors.New("host: PoolConfig: set Size or Min/Max, not both")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"IdleTimeout", c.IdleTimeout}, {"RestartReset", c.RestartReset}, {"RestartWindow", c.RestartWindow}, {"DrainTimeout", c.DrainTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("host: PoolConfig.%s %v is negative", d.name, d.v)
		}
	}
	return c.Restart.Validate()
}

func (c *PoolConfig) setDefaults() {
	if c.Max == 0 {
		c.Size = cmp.Or(c.Size, 1)
		c.Min, c.Max = c.Size, c.Size
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultPoolMaxQueue
	}
	c.Restart.BaseDelay = cmp.Or(c.Restart.BaseDelay, DefaultRestartDelay)
	c.Restart.MaxDelay = cmp.Or(c.Restart.MaxDelay, DefaultRestartMaxDelay)
	c.RestartReset = cmp.Or(c.RestartReset, DefaultRestartReset)
	if c.MaxRestarts == 0 {
		c.MaxRestarts = DefaultMaxRestarts
	}
	c.RestartWindow = cmp.Or(c.RestartWindow, DefaultRestartWindow)
	c.HealthInterval = cmp.Or(c.HealthInterval, DefaultHealthInterval)
	c.HealthFailures = cmp.Or(c.HealthFailures, DefaultHealthFailures)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, DefaultDrainTimeout)
	if c.Worker.Name == "" && c.Worker.Cmd != nil {
		c.Worker.Name = baseName(c.Worker.Cmd.Path)
	}
	c.Worker.Name = cmp.Or(c.Worker.Name, "pool")
	c.Worker.GracePeriod = cmp.Or(c.Worker.GracePeriod, DefaultGracePeriod)
}

// cloneCmd returns a new command with t's Path, Args, Env and Dir.
func cloneCmd(t *exec.Cmd) *exec.Cmd {
	c := &exec.Cmd{Path: t.Path, Dir: t.Dir, Err: t.Err}
	c.Args = append([]string(nil), t.Args...)
	if t.Env != nil {
		c.Env = append([]string(nil), t.Env...)
	}
	return c
}
