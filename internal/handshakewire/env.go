package handshakewire

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/isolated-workers/isolated-workers-go/handshake"
)

// Environment variables the host sets for the worker.
const (
	EnvSocketPath       = "ISOLATED_WORKERS_SOCKET_PATH"
	EnvSerializer       = "ISOLATED_WORKERS_SERIALIZER"
	EnvProtocolVersions = "ISOLATED_WORKERS_PROTOCOL_VERSIONS" // comma separated, e.g. "1,2"
	EnvAuthToken        = "ISOLATED_WORKERS_AUTH_TOKEN"
	EnvReadyFD          = "ISOLATED_WORKERS_READY_FD" // descriptor number of the ready pipe; on Windows the inherited handle's value
	// EnvSocketGroup, when set, is the numeric gid the worker gives its
	// socket, with mode 0660 instead of 0600 (host.UnixSocketConfig.Group).
	EnvSocketGroup = "ISOLATED_WORKERS_SOCKET_GROUP"
)

// Env is what the host tells the worker through the environment.
type Env struct {
	SocketPath       string
	Serializer       string
	ProtocolVersions []int
	AuthToken        string
	ReadyFD          int
	// SocketGroup is the decimal gid to chown the socket to, group
	// read-write (0660); "" keeps it 0600 and the worker's own group.
	SocketGroup string
}

// Encode returns the variables as KEY=VALUE pairs, the cookie first.
func (e Env) Encode(c handshake.Config) []string {
	vs := make([]string, len(e.ProtocolVersions))
	for i, v := range e.ProtocolVersions {
		vs[i] = strconv.Itoa(v)
	}
	env := []string{
		c.MagicCookieKey + "=" + c.MagicCookieValue,
		EnvSocketPath + "=" + e.SocketPath,
		EnvSerializer + "=" + e.Serializer,
		EnvProtocolVersions + "=" + strings.Join(vs, ","),
		EnvAuthToken + "=" + e.AuthToken,
		EnvReadyFD + "=" + strconv.Itoa(e.ReadyFD),
	}
	if e.SocketGroup != "" {
		env = append(env, EnvSocketGroup+"="+e.SocketGroup)
	}
	return env
}

// ParseEnv reads the contract from getenv (os.Getenv in a worker). A
// missing or wrong cookie gives ErrNotLaunchedByHost; any other problem an
// error naming the variable.
func ParseEnv(c handshake.Config, getenv func(string) string) (Env, error) {
	if c.MagicCookieKey == "" || getenv(c.MagicCookieKey) != c.MagicCookieValue {
		// A host did launch this binary (it set the socket and the ready
		// pipe) but with another handshake: say that on the ready pipe,
		// instead of "not meant to be run directly".
		if fd, err := strconv.Atoi(getenv(EnvReadyFD)); err == nil && fd >= 3 && getenv(EnvSocketPath) != "" && c.MagicCookieKey != "" {
			return Env{ReadyFD: fd}, &CookieMismatchError{Key: c.MagicCookieKey, Set: getenv(c.MagicCookieKey) != ""}
		}
		return Env{}, handshake.ErrNotLaunchedByHost
	}
	var e Env
	e.SocketPath = getenv(EnvSocketPath)
	if e.SocketPath == "" {
		return Env{}, fmt.Errorf("handshake: %s is empty", EnvSocketPath)
	}
	e.Serializer = getenv(EnvSerializer)
	if e.Serializer == "" {
		return Env{}, fmt.Errorf("handshake: %s is empty", EnvSerializer)
	}
	e.AuthToken = getenv(EnvAuthToken)
	if e.AuthToken == "" {
		return Env{}, fmt.Errorf("handshake: %s is empty", EnvAuthToken)
	}
	versions, err := ParseVersions(getenv(EnvProtocolVersions))
	if err != nil {
		return Env{}, fmt.Errorf("handshake: %s: %w", EnvProtocolVersions, err)
	}
	e.ProtocolVersions = versions
	fd, err := strconv.Atoi(getenv(EnvReadyFD))
	if err != nil || fd < 3 {
		return Env{}, fmt.Errorf("handshake: %s=%q is not a descriptor number of 3 or more", EnvReadyFD, getenv(EnvReadyFD))
	}
	e.ReadyFD = fd
	if g := getenv(EnvSocketGroup); g != "" {
		if gid, err := strconv.Atoi(g); err != nil || gid < 0 {
			return Env{}, fmt.Errorf("handshake: %s=%q is not a gid", EnvSocketGroup, g)
		}
		e.SocketGroup = g
	}
	return e, nil
}

// UnsetEnv removes the cookie and every handshake variable from this
// process's environment, so processes it starts do not inherit them (the
// auth token is a secret). A worker calls it once it has read them.
func UnsetEnv(c handshake.Config) {
	if c.MagicCookieKey != "" {
		os.Unsetenv(c.MagicCookieKey)
	}
	for _, k := range []string{EnvSocketPath, EnvSerializer, EnvProtocolVersions, EnvAuthToken, EnvReadyFD, EnvSocketGroup} {
		os.Unsetenv(k)
	}
}

// ParseVersions parses a comma-separated list of positive versions.
func ParseVersions(s string) ([]int, error) {
	if s == "" {
		return nil, errors.New("no protocol versions")
	}
	parts := strings.Split(s, ",")
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("version %q is not a positive integer", p)
		}
		out = append(out, v)
	}
	return out, nil
}

// CookieMismatchError: a host launched the worker (the handshake variables
// are set) but its magic cookie differs from the worker's: the two were
// built with different handshake.Config values.
type CookieMismatchError struct {
	Key string // the worker's MagicCookieKey
	Set bool   // whether the host set that variable at all
}

func (e *CookieMismatchError) Error() string {
	if e.Set {
		return fmt.Sprintf("magic cookie mismatch: the host set %s to another value than this worker's handshake.Config expects; build host and worker with the same handshake", e.Key)
	}
	return fmt.Sprintf("magic cookie mismatch: the host did not set %s, the cookie this worker's handshake.Config expects; build host and worker with the same handshake", e.Key)
}
