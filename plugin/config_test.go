package plugin

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

var (
	testHandshake = handshake.Config{MagicCookieKey: "IW_PLUGIN_TEST", MagicCookieValue: "yes"}
	Double        = shared.NewMessage[int, int]("double")
	Greet         = shared.NewMessage[string, string]("greet")
)

func double(_ context.Context, n int) (int, error)      { return 2 * n, nil }
func greet(_ context.Context, s string) (string, error) { return "hello " + s, nil }

// unnamed is a serializer without a name, which cannot be used.
type unnamed struct{ shared.JSON }

func (unnamed) Name() string { return "" }

func TestHandlers(t *testing.T) {
	tests := []struct {
		name      string
		set       HandlerSet
		wantNames []string
		wantErr   string
	}{
		{"none", Handlers(), []string{}, ""},
		{"two, sorted", Handlers(Handle(Greet, greet), Handle(Double, double)), []string{"double", "greet"}, ""},
		{"duplicate name", Handlers(Handle(Double, double), Handle(Greet, greet), Handle(Double, double)),
			[]string{"double", "greet"}, `plugin: two handlers for message "double"`},
		{"duplicate name, other types", Handlers(Handle(Double, double), Handle(shared.NewMessage[string, string]("double"), greet)),
			[]string{"double"}, `plugin: two handlers for message "double"`},
		{"zero Handler", Handlers(Handle(Double, double), Handler{}),
			[]string{"double"}, "plugin: handler 1 has no message; make handlers with plugin.Handle"},
		{"message with an empty name", Handlers(Handle(shared.NewMessage[int, int](""), double)),
			[]string{}, "plugin: handler 0 has no message; make handlers with plugin.Handle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.wantNames, tt.set.Names()); diff != "" {
				t.Errorf("Names() (-want +got):\n%s", diff)
			}
			err := Config{Handshake: testHandshake, Handlers: tt.set}.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Config{Handlers: ...}.Validate() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"zero value with a handshake", func(*Config) {}, ""},
		{"every field set", func(c *Config) {
			c.Handlers = Handlers(Handle(Double, double))
			c.VersionedHandlers = map[int]HandlerSet{2: Handlers(Handle(Greet, greet))}
			c.Serializer = shared.MsgPack{}
			c.HostConnectTimeout = shared.Duration(0)
			c.DisconnectBehavior = KeepAlive
			c.MaxFrameSize, c.MaxRawSize, c.LogBuffer = 1, 2, 3
		}, ""},
		{"no handshake", func(c *Config) { c.Handshake = handshake.Config{} }, "handshake: MagicCookieKey and MagicCookieValue must be set"},
		{"serializer without a name", func(c *Config) { c.Serializer = unnamed{} }, "serializer plugin.unnamed has an empty name"},
		{"negative HostConnectTimeout", func(c *Config) { c.HostConnectTimeout = shared.Duration(-time.Second) }, "plugin: HostConnectTimeout -1s is negative"},
		{"negative StopGrace", func(c *Config) { c.StopGrace = -time.Second }, "plugin: StopGrace -1s is negative"},
		{"negative MaxFrameSize", func(c *Config) { c.MaxFrameSize = -1 }, "plugin: MaxFrameSize, MaxRawSize and LogBuffer must not be negative"},
		{"negative MaxRawSize", func(c *Config) { c.MaxRawSize = -1 }, "plugin: MaxFrameSize, MaxRawSize and LogBuffer must not be negative"},
		{"negative LogBuffer", func(c *Config) { c.LogBuffer = -1 }, "plugin: MaxFrameSize, MaxRawSize and LogBuffer must not be negative"},
		{"negative LogWait", func(c *Config) { c.LogWait = -time.Second }, "plugin: LogWait -1s is negative"},
		{"unknown DisconnectBehavior", func(c *Config) { c.DisconnectBehavior = 7 }, "plugin: unknown DisconnectBehavior 7"},
		{"versioned handlers at version 0", func(c *Config) { c.VersionedHandlers = map[int]HandlerSet{0: Handlers()} },
			"plugin: VersionedHandlers has protocol version 0; versions start at 1"},
		{"versioned handlers with a duplicate", func(c *Config) {
			c.VersionedHandlers = map[int]HandlerSet{3: Handlers(Handle(Greet, greet), Handle(Greet, greet))}
		}, `plugin: version 3: plugin: two handlers for message "greet"`},
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

func TestConfigSetDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	if c.Serializer == nil || c.Serializer.Name() != "json" {
		t.Errorf("Serializer = %v, want shared.JSON", c.Serializer)
	}
	if c.TxIDGenerator == nil || c.Getenv == nil {
		t.Errorf("TxIDGenerator, Getenv = %v, %v; want defaults set", c.TxIDGenerator != nil, c.Getenv != nil)
	}
	if c.HostConnectTimeout == nil || *c.HostConnectTimeout != DefaultHostConnectTimeout {
		t.Errorf("HostConnectTimeout = %v, want a pointer to %v", c.HostConnectTimeout, DefaultHostConnectTimeout)
	}
	got := []int{c.MaxFrameSize, c.MaxRawSize, c.LogBuffer}
	if diff := cmp.Diff([]int{DefaultMaxFrameSize, DefaultMaxRawSize, DefaultLogBuffer}, got); diff != "" {
		t.Errorf("MaxFrameSize, MaxRawSize, LogBuffer (-want +got):\n%s", diff)
	}

	// Zero means "wait forever" and must survive.
	c = Config{HostConnectTimeout: shared.Duration(0), LogBuffer: 5}
	c.setDefaults()
	if *c.HostConnectTimeout != 0 || c.LogBuffer != 5 {
		t.Errorf("setDefaults changed explicit values: HostConnectTimeout %v, LogBuffer %d", *c.HostConnectTimeout, c.LogBuffer)
	}
	if c.Getenv("PATH") != os.Getenv("PATH") {
		t.Errorf("default Getenv is not os.Getenv")
	}
}

func TestDisconnectBehaviorString(t *testing.T) {
	tests := []struct {
		b    DisconnectBehavior
		want string
	}{
		{ExitOnDisconnect, "shutdown"},
		{KeepAlive, "keep-alive"},
	}
	for _, tt := range tests {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("DisconnectBehavior(%d).String() = %q, want %q", tt.b, got, tt.want)
		}
	}
}

func TestVersions(t *testing.T) {
	v1 := Handlers(Handle(Double, double))
	v2 := Handlers(Handle(Greet, greet))
	tests := []struct {
		name      string
		protocol  []int
		versioned map[int]HandlerSet
		want      []int
	}{
		{"default", nil, nil, []int{1}},
		{"handshake versions, sorted", []int{3, 1, 2, 3}, nil, []int{1, 2, 3}},
		{"versioned only", nil, map[int]HandlerSet{4: v1, 2: v2}, []int{2, 4}},
		{"both", []int{1}, map[int]HandlerSet{2: v2}, []int{1, 2}},
		{"overlapping", []int{1, 2}, map[int]HandlerSet{2: v2, 5: v1}, []int{1, 2, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Handshake: handshake.Config{MagicCookieKey: "k", MagicCookieValue: "v", ProtocolVersions: tt.protocol},
				Handlers: v1, VersionedHandlers: tt.versioned}
			if diff := cmp.Diff(tt.want, c.versions()); diff != "" {
				t.Errorf("versions() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandlersFor(t *testing.T) {
	c := Config{
		Handshake:         handshake.Config{MagicCookieKey: "k", MagicCookieValue: "v", ProtocolVersions: []int{1}},
		Handlers:          Handlers(Handle(Double, double)),
		VersionedHandlers: map[int]HandlerSet{2: Handlers(Handle(Double, double), Handle(Greet, greet))},
	}
	tests := []struct {
		version int
		want    []string
	}{
		{1, []string{"double"}},
		{2, []string{"double", "greet"}},
		{3, []string{"double"}}, // not versioned: the common handlers
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, c.handlersFor(tt.version).Names()); diff != "" {
			t.Errorf("handlersFor(%d).Names() (-want +got):\n%s", tt.version, diff)
		}
	}
}
