package handshake

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// Codes of a worker's start-up errors (ready pipe) and hello refusals
// (WorkerHello.Code). A host matches these, never the message text; the
// set is written up in PROTOCOL.md ("Error codes").
const (
	// CodeSerializerMismatch: host and worker use different serializers.
	// Fields: host, worker (serializer names).
	CodeSerializerMismatch = "serializer-mismatch"
	// CodeSerializerCollision: two different serializers share a name.
	// Fields: name, host, worker (fingerprints).
	CodeSerializerCollision = "serializer-collision"
	// CodeVersionMismatch: no protocol version in common. Fields: host,
	// worker (comma-separated version lists).
	CodeVersionMismatch = "version-mismatch"
	// CodeAuthFailed: the hello carried the wrong auth token.
	CodeAuthFailed = "auth-failed"
	// CodeBusy: the worker already serves another host.
	CodeBusy = "busy"
	// CodeShuttingDown: the worker is on its way out; start a new one.
	CodeShuttingDown = "shutting-down"
	// CodeStartup: any other start-up failure (listen, chmod, ...).
	CodeStartup = "startup"
)

var knownCodes = map[string]bool{
	CodeSerializerMismatch: true, CodeSerializerCollision: true, CodeVersionMismatch: true,
	CodeAuthFailed: true, CodeBusy: true, CodeShuttingDown: true, CodeStartup: true,
}

// ErrorCode returns the code and fields that describe err on the wire: the
// code of this package's typed errors (found with errors.As), or fallback
// for any other error.
func ErrorCode(err error, fallback string) (code string, fields map[string]string) {
	var sm *SerializerMismatchError
	var sc *SerializerCollisionError
	var vm *VersionMismatchError
	switch {
	case errors.As(err, &sm):
		return CodeSerializerMismatch, map[string]string{"host": sm.Host, "worker": sm.Worker}
	case errors.As(err, &sc):
		return CodeSerializerCollision, map[string]string{"name": sc.Name, "host": sc.Host, "worker": sc.Worker}
	case errors.As(err, &vm):
		return CodeVersionMismatch, map[string]string{"host": joinInts(vm.Host), "worker": joinInts(vm.Worker)}
	}
	return fallback, nil
}

// ErrorFromCode rebuilds the typed error a code and its fields describe: a
// *SerializerMismatchError, *SerializerCollisionError or
// *VersionMismatchError. It returns nil for other codes and for fields
// that do not fit the code.
func ErrorFromCode(code string, fields map[string]string) error {
	switch code {
	case CodeSerializerMismatch:
		if fields["host"] != "" && fields["worker"] != "" {
			return &SerializerMismatchError{Host: fields["host"], Worker: fields["worker"]}
		}
	case CodeSerializerCollision:
		if fields["name"] != "" {
			return &SerializerCollisionError{Name: fields["name"], Host: fields["host"], Worker: fields["worker"]}
		}
	case CodeVersionMismatch:
		h, err1 := splitInts(fields["host"])
		w, err2 := splitInts(fields["worker"])
		if err1 == nil && err2 == nil {
			return &VersionMismatchError{Host: h, Worker: w}
		}
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func splitInts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// encodeFields writes fields for an error line: URL query syntax, or "-"
// for none, so the result never contains a space.
func encodeFields(fields map[string]string) string {
	if len(fields) == 0 {
		return "-"
	}
	v := url.Values{}
	for k, s := range fields {
		v.Set(k, s)
	}
	return v.Encode()
}

func decodeFields(s string) (map[string]string, bool) {
	if s == "-" {
		return nil, true
	}
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, false
	}
	out := make(map[string]string, len(v))
	for k := range v {
		out[k] = v.Get(k)
	}
	return out, true
}
