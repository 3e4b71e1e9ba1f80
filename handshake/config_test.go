package handshake_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/handshake"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     handshake.Config
		wantErr string // "" means valid
	}{
		{
			name: "cookie and default versions",
			cfg:  handshake.Config{MagicCookieKey: "K", MagicCookieValue: "v"},
		},
		{
			name: "explicit versions",
			cfg:  handshake.Config{MagicCookieKey: "K", MagicCookieValue: "v", ProtocolVersions: []int{3, 1, 2}},
		},
		{
			name:    "zero value",
			cfg:     handshake.Config{},
			wantErr: "handshake: MagicCookieKey and MagicCookieValue must be set",
		},
		{
			name:    "no cookie key",
			cfg:     handshake.Config{MagicCookieValue: "v"},
			wantErr: "handshake: MagicCookieKey and MagicCookieValue must be set",
		},
		{
			name:    "no cookie value",
			cfg:     handshake.Config{MagicCookieKey: "K"},
			wantErr: "handshake: MagicCookieKey and MagicCookieValue must be set",
		},
		{
			name:    "zero version",
			cfg:     handshake.Config{MagicCookieKey: "K", MagicCookieValue: "v", ProtocolVersions: []int{1, 0}},
			wantErr: "handshake: protocol version 0 is not positive",
		},
		{
			name:    "negative version",
			cfg:     handshake.Config{MagicCookieKey: "K", MagicCookieValue: "v", ProtocolVersions: []int{-2}},
			wantErr: "handshake: protocol version -2 is not positive",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if got := errText(err); got != tt.wantErr {
				t.Errorf("%+v.Validate() = %q, want %q", tt.cfg, got, tt.wantErr)
			}
		})
	}
}

func TestConfigVersions(t *testing.T) {
	tests := []struct {
		in   []int
		want []int
	}{
		{in: nil, want: []int{1}},
		{in: []int{}, want: []int{1}},
		{in: []int{2}, want: []int{2}},
		{in: []int{3, 1, 2}, want: []int{1, 2, 3}},
		{in: []int{2, 2, 1, 2, 1}, want: []int{1, 2}},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		got := handshake.Config{ProtocolVersions: tt.in}.Versions()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Config{ProtocolVersions: %v}.Versions() mismatch (-want +got):\n%s", tt.in, diff)
		}
		if diff := cmp.Diff(in, tt.in); diff != "" {
			t.Errorf("Versions() changed its config's ProtocolVersions (-before +after):\n%s", diff)
		}
	}
}

func TestSerializerErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{
			err:  &handshake.SerializerMismatchError{Host: "json", Worker: "msgpack"},
			want: "serializer mismatch: host uses json, worker uses msgpack",
		},
		{
			err:  &handshake.SerializerMismatchError{Host: "X", Worker: "Y"},
			want: "serializer mismatch: host uses X, worker uses Y",
		},
		{
			err: &handshake.SerializerCollisionError{Name: "json", Host: "json/0a/a", Worker: "json/0a/b"},
			want: `serializer name collision: host and worker both call their serializer "json" but they differ ` +
				`(host json/0a/a, worker json/0a/b); give each serializer its own name`,
		},
		{
			err: &handshake.SerializerCollisionError{Name: "json", Host: "json/0a/1", Worker: "json/0a/shared.JSON"},
			want: `serializer name collision: host and worker both call their serializer "json" but they differ ` +
				`(host json/0a/1, worker json/0a/shared.JSON); the fingerprint that ends in a Go type name comes from ` +
				`isolated-workers v0.1.0: build host and worker with the same version`,
		},
		{
			err: &handshake.SerializerCollisionError{Name: "x", Host: "x/0a/*protocol.Pretty", Worker: "x/0a/v1.2"},
			want: `serializer name collision: host and worker both call their serializer "x" but they differ ` +
				`(host x/0a/*protocol.Pretty, worker x/0a/v1.2); the fingerprint that ends in a Go type name comes from ` +
				`isolated-workers v0.1.0: build host and worker with the same version`,
		},
		{
			err:  &handshake.VersionMismatchError{Host: []int{1, 2}, Worker: []int{3}},
			want: "no common protocol version: host speaks [1 2], worker speaks [3]",
		},
		{
			err:  &handshake.StartupError{Message: "listen on /x: permission denied"},
			want: "listen on /x: permission denied",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// errText returns err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
