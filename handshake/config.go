package handshake

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Config is what host and worker must agree on before they talk. Define it
// once in a package both import.
type Config struct {
	// MagicCookieKey and MagicCookieValue are set in the worker's
	// environment by the host. They are not a security measure: they let a
	// worker binary started by hand explain itself instead of hanging.
	MagicCookieKey   string
	MagicCookieValue string
	// ProtocolVersions lists the versions this side speaks. The host offers
	// all of them; the highest version both sides speak wins. A worker
	// serving a different handler set per version lists its versions in
	// plugin.Config.VersionedHandlers instead. Default: [1].
	ProtocolVersions []int
}

// Validate reports whether the config is usable.
func (c Config) Validate() error {
	if c.MagicCookieKey == "" || c.MagicCookieValue == "" {
		return errors.New("handshake: MagicCookieKey and MagicCookieValue must be set")
	}
	for _, v := range c.ProtocolVersions {
		if v < 1 {
			return fmt.Errorf("handshake: protocol version %d is not positive", v)
		}
	}
	return nil
}

// Versions returns the configured versions, sorted and deduplicated, or [1].
func (c Config) Versions() []int {
	if len(c.ProtocolVersions) == 0 {
		return []int{1}
	}
	v := slices.Clone(c.ProtocolVersions)
	slices.Sort(v)
	return slices.Compact(v)
}

// VersionMismatchError says that host and worker share no protocol version.
type VersionMismatchError struct {
	Host, Worker []int
}

// The texts of the mismatch errors. internal/handshakewire recognizes them
// again on the host in a ready line from a worker without error codes; its
// tests keep the two copies equal.
const (
	versionMismatchText    = "no common protocol version: host speaks "
	versionMismatchWorker  = ", worker speaks "
	serializerMismatchText = "serializer mismatch: host uses "
	serializerMismatchWkr  = ", worker uses "
)

func (e *VersionMismatchError) Error() string {
	return fmt.Sprint(versionMismatchText, e.Host, versionMismatchWorker, e.Worker)
}

// SerializerMismatchError says host and worker use different serializers.
// Its text is the exact text the worker prints and the host reports.
type SerializerMismatchError struct {
	Host, Worker string
}

func (e *SerializerMismatchError) Error() string {
	return serializerMismatchText + e.Host + serializerMismatchWkr + e.Worker
}

// SerializerCollisionError says host and worker use two different
// serializers under the same name.
type SerializerCollisionError struct {
	Name         string
	Host, Worker string // fingerprints
}

func (e *SerializerCollisionError) Error() string {
	advice := "give each serializer its own name"
	if legacyFingerprint(e.Host) != legacyFingerprint(e.Worker) {
		advice = "the fingerprint that ends in a Go type name comes from isolated-workers v0.1.0: build host and worker with the same version"
	}
	return fmt.Sprintf("serializer name collision: host and worker both call their serializer %q but they differ (host %s, worker %s); %s",
		e.Name, e.Host, e.Worker, advice)
}

// legacyFingerprint reports whether fp has the form isolated-workers
// v0.1.0 derived from a Go type, <name>/<hex>/<pkg>.<Type>
// ("json/0a/shared.JSON"), which later versions replaced by
// <name>/<hex>/<encoding version> ("json/0a/1").
func legacyFingerprint(fp string) bool {
	i := strings.LastIndexByte(fp, '/')
	if i < 0 {
		return false
	}
	pkg, typ, ok := strings.Cut(strings.TrimPrefix(fp[i+1:], "*"), ".")
	return ok && isIdent(pkg) && isIdent(typ)
}

func isIdent(s string) bool {
	for i, r := range s {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return s != ""
}
