// Package wire is the envelope codec: a header frame encoded by the
// serializer (or by a lean hand-written JSON codec for the JSON serializer),
// followed by the payload as a second frame or as raw bytes.
//
// A Codec is immutable after construction and safe for concurrent use.
package wire

import (
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Body says what follows a header frame.
type Body uint8

// Bodies.
const (
	BodyNone  Body = 0 // nothing follows
	BodyFrame Body = 1 // one serialized frame follows
	BodyRaw   Body = 2 // RawLen raw bytes follow, no terminator
)

// Header is the envelope without its payload. Field names on the wire are
// the json/msgpack tags; handshake/PROTOCOL.md documents them.
type Header struct {
	Version  int               `json:"v" msgpack:"v"`
	Kind     shared.Kind       `json:"k" msgpack:"k"`
	Type     string            `json:"t,omitempty" msgpack:"t,omitempty"`
	ID       string            `json:"id,omitempty" msgpack:"id,omitempty"`
	Headers  map[string]string `json:"h,omitempty" msgpack:"h,omitempty"`
	Deadline int64             `json:"dl,omitempty" msgpack:"dl,omitempty"` // unix nanoseconds
	Body     Body              `json:"b,omitempty" msgpack:"b,omitempty"`
	RawLen   int               `json:"n,omitempty" msgpack:"n,omitempty"`
	// Events is, on a result or error reply, how many events the handler
	// emitted (on the events stream, with the call's id) before it
	// returned. The host delivers that many before the call returns.
	Events int `json:"ec,omitempty" msgpack:"ec,omitempty"`
}
