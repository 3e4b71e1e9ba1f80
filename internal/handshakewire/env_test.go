package handshakewire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

var testConfig = handshake.Config{MagicCookieKey: "TEST_WORKER_COOKIE", MagicCookieValue: "d5f1c0de", ProtocolVersions: []int{1, 2}}

// environ turns KEY=VALUE pairs into a getenv function, as os.Getenv sees
// them: the first "=" separates key and value, a later pair wins.
func environ(pairs []string) func(string) string {
	m := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// validEnv returns the variables of a well-formed launch, cookie included.
func validEnv() map[string]string {
	return map[string]string{
		testConfig.MagicCookieKey:            testConfig.MagicCookieValue,
		handshakewire.EnvSocketPath:          "/tmp/iw-123/s",
		handshakewire.EnvSerializer:          "json",
		handshakewire.EnvProtocolVersions:    "1,2",
		handshakewire.EnvAuthToken:           "0123abcd",
		handshakewire.EnvReadyFD:             "3",
		"UNRELATED_VARIABLE_SET_BY_THE_USER": "x",
	}
}

func TestEnvEncode(t *testing.T) {
	e := handshakewire.Env{SocketPath: "/tmp/iw-1/s", Serializer: "msgpack", ProtocolVersions: []int{1, 3}, AuthToken: "tok", ReadyFD: 4}
	want := []string{
		"TEST_WORKER_COOKIE=d5f1c0de",
		"ISOLATED_WORKERS_SOCKET_PATH=/tmp/iw-1/s",
		"ISOLATED_WORKERS_SERIALIZER=msgpack",
		"ISOLATED_WORKERS_PROTOCOL_VERSIONS=1,3",
		"ISOLATED_WORKERS_AUTH_TOKEN=tok",
		"ISOLATED_WORKERS_READY_FD=4",
	}
	if diff := cmp.Diff(want, e.Encode(testConfig)); diff != "" {
		t.Errorf("%+v.Encode() mismatch (-want +got):\n%s", e, diff)
	}
}

func TestEnvRoundTrip(t *testing.T) {
	envs := []handshakewire.Env{
		{SocketPath: "/tmp/iw-1/s", Serializer: "json", ProtocolVersions: []int{1}, AuthToken: "a", ReadyFD: 3},
		{SocketPath: "/var/folders/x y/iw-2/s", Serializer: "msgpack", ProtocolVersions: []int{1, 2, 7}, AuthToken: strings.Repeat("f", 64), ReadyFD: 9},
		{SocketPath: "s=with=equals", Serializer: "my,serializer", ProtocolVersions: []int{2, 1}, AuthToken: "t=k", ReadyFD: 1000},
		{SocketPath: "/run/iw-3/s", Serializer: "json", ProtocolVersions: []int{1}, AuthToken: "g", ReadyFD: 3, SocketGroup: "1000"},
	}
	for _, want := range envs {
		got, err := handshakewire.ParseEnv(testConfig, environ(want.Encode(testConfig)))
		if err != nil {
			t.Errorf("ParseEnv(Encode(%+v)) error = %v, want nil", want, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ParseEnv(Encode(%+v)) mismatch (-want +got):\n%s", want, diff)
		}
	}
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *handshake.Config // nil means testConfig
		change  map[string]string // "" deletes the variable
		want    handshakewire.Env
		wantErr string
	}{
		{
			name: "valid",
			want: handshakewire.Env{SocketPath: "/tmp/iw-123/s", Serializer: "json", ProtocolVersions: []int{1, 2}, AuthToken: "0123abcd", ReadyFD: 3},
		},
		{
			name:   "versions with spaces and duplicates",
			change: map[string]string{handshakewire.EnvProtocolVersions: " 2, 1 ,2"},
			want:   handshakewire.Env{SocketPath: "/tmp/iw-123/s", Serializer: "json", ProtocolVersions: []int{2, 1, 2}, AuthToken: "0123abcd", ReadyFD: 3},
		},
		{
			name:   "socket group",
			change: map[string]string{handshakewire.EnvSocketGroup: "0"},
			want:   handshakewire.Env{SocketPath: "/tmp/iw-123/s", Serializer: "json", ProtocolVersions: []int{1, 2}, AuthToken: "0123abcd", ReadyFD: 3, SocketGroup: "0"},
		},
		{
			name:    "socket group not a gid",
			change:  map[string]string{handshakewire.EnvSocketGroup: "staff"},
			wantErr: `handshake: ISOLATED_WORKERS_SOCKET_GROUP="staff" is not a gid`,
		},
		{
			// A host launched it (socket and ready pipe set) with another
			// handshake: the ready pipe says so.
			name:    "missing cookie",
			change:  map[string]string{testConfig.MagicCookieKey: ""},
			want:    handshakewire.Env{ReadyFD: 3}, // to report it on
			wantErr: "magic cookie mismatch: the host did not set " + testConfig.MagicCookieKey + ", the cookie this worker's handshake.Config expects; build host and worker with the same handshake",
		},
		{
			name:    "wrong cookie",
			change:  map[string]string{testConfig.MagicCookieKey: "d5f1c0dE"},
			want:    handshakewire.Env{ReadyFD: 3},
			wantErr: "magic cookie mismatch: the host set " + testConfig.MagicCookieKey + " to another value than this worker's handshake.Config expects; build host and worker with the same handshake",
		},
		{
			// Started by hand: none of the host's variables.
			name:    "wrong cookie and no host",
			change:  map[string]string{testConfig.MagicCookieKey: "d5f1c0dE", handshakewire.EnvSocketPath: "", handshakewire.EnvReadyFD: ""},
			wantErr: handshake.ErrNotLaunchedByHost.Error(),
		},
		{
			name:    "config without cookie key",
			cfg:     &handshake.Config{},
			wantErr: handshake.ErrNotLaunchedByHost.Error(),
		},
		{
			name:    "missing socket path",
			change:  map[string]string{handshakewire.EnvSocketPath: ""},
			wantErr: "handshake: ISOLATED_WORKERS_SOCKET_PATH is empty",
		},
		{
			name:    "missing serializer",
			change:  map[string]string{handshakewire.EnvSerializer: ""},
			wantErr: "handshake: ISOLATED_WORKERS_SERIALIZER is empty",
		},
		{
			name:    "missing auth token",
			change:  map[string]string{handshakewire.EnvAuthToken: ""},
			wantErr: "handshake: ISOLATED_WORKERS_AUTH_TOKEN is empty",
		},
		{
			name:    "missing versions",
			change:  map[string]string{handshakewire.EnvProtocolVersions: ""},
			wantErr: "handshake: ISOLATED_WORKERS_PROTOCOL_VERSIONS: no protocol versions",
		},
		{
			name:    "version not a number",
			change:  map[string]string{handshakewire.EnvProtocolVersions: "1,two"},
			wantErr: `handshake: ISOLATED_WORKERS_PROTOCOL_VERSIONS: version "two" is not a positive integer`,
		},
		{
			name:    "version zero",
			change:  map[string]string{handshakewire.EnvProtocolVersions: "0"},
			wantErr: `handshake: ISOLATED_WORKERS_PROTOCOL_VERSIONS: version "0" is not a positive integer`,
		},
		{
			name:    "negative version",
			change:  map[string]string{handshakewire.EnvProtocolVersions: "2,-1"},
			wantErr: `handshake: ISOLATED_WORKERS_PROTOCOL_VERSIONS: version "-1" is not a positive integer`,
		},
		{
			name:    "empty version in the list",
			change:  map[string]string{handshakewire.EnvProtocolVersions: "1,,2"},
			wantErr: `handshake: ISOLATED_WORKERS_PROTOCOL_VERSIONS: version "" is not a positive integer`,
		},
		{
			name:    "trailing comma",
			change:  map[string]string{handshakewire.EnvProtocolVersions: "1,"},
			wantErr: `handshake: ISOLATED_WORKERS_PROTOCOL_VERSIONS: version "" is not a positive integer`,
		},
		{
			name:    "missing ready fd",
			change:  map[string]string{handshakewire.EnvReadyFD: ""},
			wantErr: `handshake: ISOLATED_WORKERS_READY_FD="" is not a descriptor number of 3 or more`,
		},
		{
			name:    "ready fd not a number",
			change:  map[string]string{handshakewire.EnvReadyFD: "three"},
			wantErr: `handshake: ISOLATED_WORKERS_READY_FD="three" is not a descriptor number of 3 or more`,
		},
		{
			name:    "ready fd is stderr",
			change:  map[string]string{handshakewire.EnvReadyFD: "2"},
			wantErr: `handshake: ISOLATED_WORKERS_READY_FD="2" is not a descriptor number of 3 or more`,
		},
		{
			name:    "ready fd negative",
			change:  map[string]string{handshakewire.EnvReadyFD: "-4"},
			wantErr: `handshake: ISOLATED_WORKERS_READY_FD="-4" is not a descriptor number of 3 or more`,
		},
		{
			name:    "ready fd overflows",
			change:  map[string]string{handshakewire.EnvReadyFD: "99999999999999999999"},
			wantErr: `handshake: ISOLATED_WORKERS_READY_FD="99999999999999999999" is not a descriptor number of 3 or more`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig
			if tt.cfg != nil {
				cfg = *tt.cfg
			}
			vars := validEnv()
			for k, v := range tt.change {
				if v == "" {
					delete(vars, k)
				} else {
					vars[k] = v
				}
			}
			getenv := func(k string) string { return vars[k] }
			got, err := handshakewire.ParseEnv(cfg, getenv)
			if errText(err) != tt.wantErr {
				t.Fatalf("ParseEnv(%v) error = %q, want %q", vars, errText(err), tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseEnv(%v) mismatch (-want +got):\n%s", vars, diff)
			}
		})
	}
}

func TestParseEnvNotLaunchedByHostMatches(t *testing.T) {
	_, err := handshakewire.ParseEnv(testConfig, func(string) string { return "" })
	if !errors.Is(err, handshake.ErrNotLaunchedByHost) {
		t.Errorf("ParseEnv(empty environment) = %v, want errors.Is ErrNotLaunchedByHost", err)
	}
	const want = "this binary is a worker plugin, launched by its host; it is not meant to be run directly"
	if got := handshake.ErrNotLaunchedByHost.Error(); got != want {
		t.Errorf("ErrNotLaunchedByHost = %q, want %q", got, want)
	}
}

func TestParseVersions(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{in: "1", want: []int{1}},
		{in: "1,2,3", want: []int{1, 2, 3}},
		{in: " 3 , 1 ", want: []int{3, 1}},
		{in: "", wantErr: "no protocol versions"},
		{in: " ", wantErr: `version " " is not a positive integer`},
		{in: "1;2", wantErr: `version "1;2" is not a positive integer`},
		{in: "1.5", wantErr: `version "1.5" is not a positive integer`},
		{in: "0x2", wantErr: `version "0x2" is not a positive integer`},
	}
	for _, tt := range tests {
		got, err := handshakewire.ParseVersions(tt.in)
		if errText(err) != tt.wantErr {
			t.Errorf("ParseVersions(%q) error = %q, want %q", tt.in, errText(err), tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseVersions(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}
