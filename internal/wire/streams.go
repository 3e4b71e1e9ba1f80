package wire

import (
	"bufio"
	"fmt"
	"io"
	"time"
)

// Stream names. Every yamux stream starts with its name and "\n".
const (
	StreamControl = "control" // hello, shutdown, goodbye (JSON lines)
	StreamCalls   = "calls"   // requests, results, errors, cancels
	StreamLogs    = "logs"    // the worker's hclog records (JSON lines)
	StreamEvents  = "events"  // events from the worker
	StreamBulk    = "bulk"    // messages with large raw payloads, both ways
)

// StreamDeadliner is the part of a yamux stream that stream naming needs.
type StreamDeadliner interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
}

// WriteStreamName writes the name line that opens a stream.
func WriteStreamName(w io.Writer, name string) error {
	_, err := io.WriteString(w, name+"\n")
	return err
}

// ReadStreamName reads the name line of a stream accepted from the peer,
// waiting at most timeout.
func ReadStreamName(s StreamDeadliner, br *bufio.Reader, timeout time.Duration) (string, error) {
	s.SetReadDeadline(time.Now().Add(timeout))
	defer s.SetReadDeadline(time.Time{})
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", fmt.Errorf("read stream name: %w", err)
	}
	return string(line[:len(line)-1]), nil
}
