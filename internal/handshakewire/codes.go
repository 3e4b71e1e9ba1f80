package handshakewire

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/isolated-workers/isolated-workers-go/handshake"
)

// knownCodes are the codes a ready line may carry.
var knownCodes = map[string]bool{
	handshake.CodeSerializerMismatch: true, handshake.CodeSerializerCollision: true, handshake.CodeVersionMismatch: true,
	handshake.CodeAuthFailed: true, handshake.CodeBusy: true, handshake.CodeShuttingDown: true, handshake.CodeStartup: true,
}

// ErrorCode returns the code and fields that describe err on the wire: the
// code of this package's typed errors (found with errors.As), or fallback
// for any other error.
func ErrorCode(err error, fallback string) (code string, fields map[string]string) {
	var sm *handshake.SerializerMismatchError
	var sc *handshake.SerializerCollisionError
	var vm *handshake.VersionMismatchError
	switch {
	case errors.As(err, &sm):
		return handshake.CodeSerializerMismatch, map[string]string{"host": sm.Host, "worker": sm.Worker}
	case errors.As(err, &sc):
		return handshake.CodeSerializerCollision, map[string]string{"name": sc.Name, "host": sc.Host, "worker": sc.Worker}
	case errors.As(err, &vm):
		return handshake.CodeVersionMismatch, map[string]string{"host": joinInts(vm.Host), "worker": joinInts(vm.Worker)}
	}
	return fallback, nil
}

// ErrorFromCode rebuilds the typed error a code and its fields describe: a
// *SerializerMismatchError, *SerializerCollisionError or
// *VersionMismatchError. It returns nil for other codes and for fields
// that do not fit the code.
func ErrorFromCode(code string, fields map[string]string) error {
	switch code {
	case handshake.CodeSerializerMismatch:
		if fields["host"] != "" && fields["worker"] != "" {
			return &handshake.SerializerMismatchError{Host: fields["host"], Worker: fields["worker"]}
		}
	case handshake.CodeSerializerCollision:
		if fields["name"] != "" {
			return &handshake.SerializerCollisionError{Name: fields["name"], Host: fields["host"], Worker: fields["worker"]}
		}
	case handshake.CodeVersionMismatch:
		h, err1 := splitInts(fields["host"])
		w, err2 := splitInts(fields["worker"])
		if err1 == nil && err2 == nil {
			return &handshake.VersionMismatchError{Host: h, Worker: w}
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
