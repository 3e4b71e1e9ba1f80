package handshakewire

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// HostHello is the first line the host writes on the control stream. The
// hello is always JSON, whatever the serializer, so it can detect a
// serializer mismatch.
type HostHello struct {
	Token           string `json:"token"`
	ProtocolVersion int    `json:"protocolVersion"`
	Serializer      string `json:"serializer"`
	Fingerprint     string `json:"fingerprint"`
	PID             int    `json:"pid"`
	LogLevel        string `json:"logLevel,omitempty"` // the host logger's level; a worker without its own LogLevel follows it
	// Messages are the message names the host serves for the worker to
	// call (plugin.CallHost), sorted; none when the host serves none.
	Messages []string `json:"messages,omitempty"`
}

// WorkerHello is the worker's answer. A non-empty Error means the worker
// refused the host; the worker closes the connection after sending it.
// Code (one of the Code* constants) and Fields say why in a form the host
// matches (see ErrorFromCode); an older worker sends Error alone.
type WorkerHello struct {
	Error              string            `json:"error,omitempty"`
	Code               string            `json:"code,omitempty"`
	Fields             map[string]string `json:"fields,omitempty"`
	ProtocolVersion    int               `json:"protocolVersion,omitempty"`
	Serializer         string            `json:"serializer,omitempty"`
	Fingerprint        string            `json:"fingerprint,omitempty"`
	PID                int               `json:"pid,omitempty"`
	Messages           []string          `json:"messages,omitempty"`
	DisconnectBehavior string            `json:"disconnectBehavior,omitempty"`
	// MaxFrameSize and MaxRawSize are the worker's limits: the largest
	// frame and raw payload it accepts. A host refuses a request over them
	// before sending anything. Zero (an older worker) means not stated.
	MaxFrameSize int `json:"maxFrameSize,omitempty"`
	MaxRawSize   int `json:"maxRawSize,omitempty"`
}

// Values of WorkerHello.DisconnectBehavior: what the worker does when its
// host disconnects.
const (
	BehaviorExit      = "shutdown"   // exit
	BehaviorKeepAlive = "keep-alive" // wait for a new host
)

// MaxHelloSize bounds a hello line.
const MaxHelloSize = 64 << 10

// ErrHelloTooLarge: a hello line exceeded MaxHelloSize.
var ErrHelloTooLarge = errors.New("hello exceeds 64 KiB")

// WriteHello writes v as one JSON line.
func WriteHello(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadHello reads one JSON line into v, refusing lines over MaxHelloSize.
func ReadHello(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxHelloSize {
			return ErrHelloTooLarge
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("malformed hello: %w", err)
	}
	return nil
}
