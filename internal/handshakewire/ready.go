package handshakewire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/isolated-workers/isolated-workers-go/handshake"
)

// The ready pipe carries exactly one line from worker to host:
//
//	ready <protocol-version> <pid>
//	error <code> <fields> <message>
//
// <code> is one of the Code* constants, <fields> the error's data in URL
// query syntax ("-" for none), <message> the worker's text. The older
// form "error <message>" (no code) is still parsed.
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

// ErrorLine formats the line a worker writes when it cannot start, with
// code CodeStartup. Newlines in msg are folded so the line stays one line,
// and a message too long for MaxReadyLine is cut.
func ErrorLine(msg string) string {
	return codedLine(handshake.CodeStartup, nil, msg)
}

// ErrorLineFor formats the error line for err: the code and fields of
// this package's typed errors (see ErrorCode), CodeStartup otherwise.
func ErrorLineFor(err error) string {
	code, fields := ErrorCode(err, handshake.CodeStartup)
	return codedLine(code, fields, err.Error())
}

func codedLine(code string, fields map[string]string, msg string) string {
	head := errorPrefix + code + " " + encodeFields(fields) + " "
	msg = strings.ReplaceAll(msg, "\n", " ")
	if limit := MaxReadyLine - len(head) - 1; len(msg) > limit {
		msg = msg[:max(limit, 0)] // the host reads at most MaxReadyLine bytes
	}
	return head + msg + "\n"
}

// parseErrorLine parses what follows "error ": the coded form, or the
// older plain message.
func parseErrorLine(rest string) *handshake.StartupError {
	if code, after, ok := strings.Cut(rest, " "); ok && knownCodes[code] {
		if enc, msg, ok := strings.Cut(after, " "); ok {
			if fields, ok := decodeFields(enc); ok {
				return &handshake.StartupError{Code: code, Message: msg, Err: ErrorFromCode(code, fields)}
			}
		}
	}
	return &handshake.StartupError{Message: rest, Err: parseMismatch(rest)}
}

// The texts of handshake's mismatch errors (unexported there), which
// parseMismatch recognizes; TestStartupErrorUnwrapsMismatches keeps them equal.
const (
	versionMismatchText    = "no common protocol version: host speaks "
	versionMismatchWorker  = ", worker speaks "
	serializerMismatchText = "serializer mismatch: host uses "
	serializerMismatchWkr  = ", worker uses "
)

// parseMismatch recognizes the text of a SerializerMismatchError or a
// VersionMismatchError (its whole message, or its end after a prefix), as
// an older worker without error codes writes it.
func parseMismatch(msg string) error {
	if i := strings.LastIndex(msg, serializerMismatchText); i >= 0 {
		host, worker, ok := strings.Cut(msg[i+len(serializerMismatchText):], serializerMismatchWkr)
		if ok && host != "" && worker != "" && !strings.ContainsAny(host+worker, " ,") {
			return &handshake.SerializerMismatchError{Host: host, Worker: worker}
		}
	}
	if i := strings.LastIndex(msg, versionMismatchText); i >= 0 {
		h, w, ok := strings.Cut(msg[i+len(versionMismatchText):], versionMismatchWorker)
		hv, err1 := parseIntList(h)
		wv, err2 := parseIntList(w)
		if ok && err1 == nil && err2 == nil {
			return &handshake.VersionMismatchError{Host: hv, Worker: wv}
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
		return 0, 0, parseErrorLine(strings.TrimPrefix(line, errorPrefix))
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
