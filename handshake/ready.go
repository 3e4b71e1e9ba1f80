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
// is the worker's own.
type StartupError struct{ Message string }

func (e *StartupError) Error() string { return e.Message }

// ParseReady parses the ready line. A worker's error line returns a
// *StartupError carrying its text verbatim.
func ParseReady(line string) (version, pid int, err error) {
	line = strings.TrimSuffix(line, "\n")
	switch {
	case strings.HasPrefix(line, errorPrefix):
		return 0, 0, &StartupError{Message: strings.TrimPrefix(line, errorPrefix)}
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
