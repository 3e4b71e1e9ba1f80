package testproto

import "github.com/isolated-workers/isolated-workers-go/shared"

// Handshake of the stream test worker (test/streamworker).
var StreamHandshake = Handshake

// CountReq asks Count for N items.
type CountReq struct {
	N int `json:"n" msgpack:"n"`
	// Pad is the length of each item's Pad string.
	Pad int `json:"pad,omitempty" msgpack:"pad,omitempty"`
	// Emit makes the handler emit one StreamTick event per item, before
	// it sends the item.
	Emit bool `json:"emit,omitempty" msgpack:"emit,omitempty"`
	// FailAt, when positive, makes the handler return an error (class
	// business) after sending FailAt items.
	FailAt int `json:"failAt,omitempty" msgpack:"failAt,omitempty"`
	// PanicAt, when positive, makes the handler panic after sending
	// PanicAt items.
	PanicAt int `json:"panicAt,omitempty" msgpack:"panicAt,omitempty"`
}

// CountItem is one item of Count.
type CountItem struct {
	I   int    `json:"i" msgpack:"i"`
	Pad string `json:"pad,omitempty" msgpack:"pad,omitempty"`
}

// BytesReq asks Bytes for Total bytes in raw chunks of Chunk bytes.
type BytesReq struct {
	Total int64 `json:"total" msgpack:"total"`
	Chunk int   `json:"chunk" msgpack:"chunk"`
}

// Streams and messages of the stream test worker.
var (
	// Count sends items 0 to N-1 (see CountReq).
	Count = shared.NewStream[CountReq, CountItem]("count")
	// Bytes sends Total bytes in raw chunks; byte i of the stream is
	// byte(i % 251).
	Bytes = shared.NewStream[BytesReq, []byte]("bytes")
	// Forever sends 0, 1, 2, ... until its send fails; the string names
	// the stream for StreamEnded.
	Forever = shared.NewStream[string, int]("forever")
	// StreamEnded waits until the Forever stream of that name has ended
	// (its handler's context done and its send failed) and returns the
	// context's cause and send's error.
	StreamEnded = shared.NewMessage[string, StreamEnd]("stream-ended")
	// StreamPing is a plain message of the stream worker.
	StreamPing = shared.NewMessage[string, string]("stream-ping")
	// NoSuchStream is served by no worker.
	NoSuchStream = shared.NewStream[string, string]("no-such-stream")
	// PingAsStream names the message StreamPing as a stream.
	PingAsStream = shared.NewStream[string, string]("stream-ping")
	// CountAsMessage names the stream Count as a message.
	CountAsMessage = shared.NewMessage[CountReq, CountItem]("count")
)

// StreamEnd says how a Forever stream ended.
type StreamEnd struct {
	Cause   string `json:"cause"`
	SendErr string `json:"sendErr"`
	Sent    int    `json:"sent"`
}

// StreamTick is the event Count emits per item when asked to.
var StreamTick = shared.NewEvent[int]("stream-tick")
