package handshake

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The ready pipe carries exactly one line from worker to host:
//
//	ready <protocol-version> <pid>
//	error <message>
const (
	readyPrefix = "ready "
	errorPrefix = "error "
)

// MaxReadyLine bounds the ready line a host reads.
const MaxReadyLine = 4096

// ReadyLine formats the line a worker writes once it is listening.
func ReadyLine(version, pid int) string {
	return fmt.Sprintf("%s%d %d\n", readyPrefix, version, pid)
}

// ErrorLine formats the line a worker writes when it cannot start. Newlines
// in msg are folded so the line stays one line, and a message too long for
// MaxReadyLine is cut.
func ErrorLine(msg string) string {
	msg = strings.ReplaceAll(msg, "\n", " ")
	if limit := MaxReadyLine - len(errorPrefix) - 1; len(msg) > limit {
		msg = msg[:limit] // the host reads at most MaxReadyLine bytes
	}
	return errorPrefix + msg + "\n"
}

// StartupError is an error the worker reported on the ready pipe. Its text
// is the worker's own. When the text is one of this package's mismatch
// errors, errors.As finds it as a *SerializerMismatchError or a
// *VersionMismatchError too.
type StartupError struct {
	Message string
	cause   error
}

func (e *StartupError) Error() string { return e.Message }

// Unwrap returns the typed mismatch error the message states, or nil.
func (e *StartupError) Unwrap() error { return e.cause }

// parseMismatch recognizes the text of a SerializerMismatchError or a
// VersionMismatchError (its whole message, or its end after a prefix).
func parseMismatch(msg string) error {
	if i := strings.LastIndex(msg, serializerMismatchText); i >= 0 {
		host, worker, ok := strings.Cut(msg[i+len(serializerMismatchText):], serializerMismatchWkr)
		if ok && host != "" && worker != "" && !strings.ContainsAny(host+worker, " ,") {
			return &SerializerMismatchError{Host: host, Worker: worker}
		}
	}
	if i := strings.LastIndex(msg, versionMismatchText); i >= 0 {
		h, w, ok := strings.Cut(msg[i+len(versionMismatchText):], versionMismatchWorker)
		hv, err1 := parseIntList(h)
		wv, err2 := parseIntList(w)
		if ok && err1 == nil && err2 == nil {
			return &VersionMismatchError{Host: hv, Worker: wv}
		}
	}
	return nil
}

// parseIntList parses "[1 2 3]", as fmt prints a []int.
func parseIntList(s string) ([]int, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("not a list: %q", s)
	}
	var out []int
	for _, f := range strings.Fields(s[1 : len(s)-1]) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseReady parses the ready line. A worker's error line returns a
// *StartupError carrying its text verbatim.
func ParseReady(line string) (version, pid int, err error) {
	line = strings.TrimSuffix(line, "\n")
	switch {
	case strings.HasPrefix(line, errorPrefix):
		msg := strings.TrimPrefix(line, errorPrefix)
		return 0, 0, &StartupError{Message: msg, cause: parseMismatch(msg)}
	case strings.HasPrefix(line, readyPrefix):
		f := strings.Fields(strings.TrimPrefix(line, readyPrefix))
		if len(f) != 2 {
			return 0, 0, fmt.Errorf("malformed ready line %q", line)
		}
		version, err1 := strconv.Atoi(f[0])
		pid, err2 := strconv.Atoi(f[1])
		if err := errors.Join(err1, err2); err != nil || version < 1 || pid < 1 {
			return 0, 0, fmt.Errorf("malformed ready line %q", line)
		}
		return version, pid, nil
	}
	return 0, 0, fmt.Errorf("malformed ready line %q", line)
}
