package host

import (
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

var testHandshake = handshake.Config{MagicCookieKey: "IW_HOST_TEST", MagicCookieValue: "yes"}

// emptyName is a serializer without a name, which cannot be used.
type emptyName struct{ shared.JSON }

func (emptyName) Name() string { return "" }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // "" for valid
	}{
		{"zero value with a handshake", func(c *Config) {}, ""},
		{"every field set", func(c *Config) {
			c.Serializer = shared.MsgPack{}
			c.StartupTimeout, c.CallTimeout, c.GracePeriod = time.Second, time.Second, time.Second
			c.Connection = Connection{Attempts: 3, Delay: time.Millisecond, MaxDelay: time.Second}
			c.MaxFrameSize, c.MaxRawSize = 1024, 2048
		}, ""},
		{"no handshake", func(c *Config) { c.Handshake = handshake.Config{} }, "handshake: MagicCookieKey and MagicCookieValue must be set"},
		{"bad protocol version", func(c *Config) { c.Handshake.ProtocolVersions = []int{0} }, "handshake: protocol version 0 is not positive"},
		{"serializer without a name", func(c *Config) { c.Serializer = emptyName{} }, "serializer host.emptyName has an empty name"},
		{"negative StartupTimeout", func(c *Config) { c.StartupTimeout = -time.Second }, "host: StartupTimeout -1s is negative"},
		{"negative CallTimeout", func(c *Config) { c.CallTimeout = -time.Millisecond }, "host: CallTimeout -1ms is negative"},
		{"negative GracePeriod", func(c *Config) { c.GracePeriod = -2 * time.Second }, "host: GracePeriod -2s is negative"},
		{"negative Connection.Delay", func(c *Config) { c.Connection.Delay = -time.Second }, "host: Connection.Delay -1s is negative"},
		{"negative Connection.MaxDelay", func(c *Config) { c.Connection.MaxDelay = -time.Minute }, "host: Connection.MaxDelay -1m0s is negative"},
		{"negative Connection.Attempts", func(c *Config) { c.Connection.Attempts = -1 }, "host: Connection.Attempts -1 is negative"},
		{"negative MaxFrameSize", func(c *Config) { c.MaxFrameSize = -1 }, "host: MaxFrameSize and MaxRawSize must not be negative"},
		{"negative MaxRawSize", func(c *Config) { c.MaxRawSize = -1 }, "host: MaxFrameSize and MaxRawSize must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Handshake: testHandshake}
			tt.modify(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// defaults is the part of a Config that setDefaults fills in, in a form
// cmp can compare.
type defaults struct {
	Serializer     string
	HasTxID        bool
	LogLevel       hclog.Level
	Name           string
	StartupTimeout time.Duration
	GracePeriod    time.Duration
	Attempts       int
	Delay          time.Duration
	MaxDelay       time.Duration
	MaxFrameSize   int
	MaxRawSize     int
	CallTimeout    time.Duration
}

func defaultsOf(c Config) defaults {
	d := defaults{
		HasTxID: c.TxIDGenerator != nil, LogLevel: c.LogLevel, Name: c.Name,
		StartupTimeout: c.StartupTimeout, GracePeriod: c.GracePeriod,
		Attempts: c.Connection.Attempts, Delay: c.Connection.Delay, MaxDelay: c.Connection.MaxDelay,
		MaxFrameSize: c.MaxFrameSize, MaxRawSize: c.MaxRawSize, CallTimeout: c.CallTimeout,
	}
	if c.Serializer != nil {
		d.Serializer = c.Serializer.Name()
	}
	return d
}

func TestConfigSetDefaults(t *testing.T) {
	zeroDefaults := defaults{
		Serializer: "json", HasTxID: true, LogLevel: hclog.Warn, Name: "worker",
		StartupTimeout: DefaultStartupTimeout, GracePeriod: DefaultGracePeriod,
		Attempts: DefaultConnectAttempts, Delay: DefaultConnectDelay, MaxDelay: DefaultConnectMaxDelay,
		MaxFrameSize: DefaultMaxFrameSize, MaxRawSize: DefaultMaxRawSize,
	}
	tests := []struct {
		name string
		in   Config
		want defaults
	}{
		{"zero value", Config{}, zeroDefaults},
		{"name from the command", Config{Cmd: exec.Command("/opt/workers/resize-v2", "-x")},
			func() defaults { d := zeroDefaults; d.Name = "resize-v2"; return d }()},
		{"explicit values stay", Config{
			Cmd: exec.Command("/bin/ignored"), Name: "mine", Serializer: shared.MsgPack{}, LogLevel: hclog.Debug,
			StartupTimeout: time.Second, GracePeriod: 3 * time.Second, CallTimeout: time.Minute,
			Connection:   Connection{Attempts: 9, Delay: time.Millisecond, MaxDelay: 2 * time.Second},
			MaxFrameSize: 100, MaxRawSize: 200,
		}, defaults{
			Serializer: "msgpack", HasTxID: true, LogLevel: hclog.Debug, Name: "mine",
			StartupTimeout: time.Second, GracePeriod: 3 * time.Second, CallTimeout: time.Minute,
			Attempts: 9, Delay: time.Millisecond, MaxDelay: 2 * time.Second, MaxFrameSize: 100, MaxRawSize: 200,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			c.setDefaults()
			if diff := cmp.Diff(tt.want, defaultsOf(c)); diff != "" {
				t.Errorf("setDefaults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigSetDefaultsKeepsTxIDGenerator(t *testing.T) {
	c := Config{TxIDGenerator: func(*shared.AnyMessage) string { return "fixed" }}
	c.setDefaults()
	if got := c.TxIDGenerator(nil); got != "fixed" {
		t.Errorf("TxIDGenerator after setDefaults returned %q, want the caller's %q", got, "fixed")
	}
}

// A config with defaults applied is still valid.
func TestConfigDefaultsValidate(t *testing.T) {
	c := Config{Handshake: testHandshake}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() after setDefaults = %v, want nil", err)
	}
}
