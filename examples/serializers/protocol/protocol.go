// Package protocol is what the serializers example's host and worker
// share: the handshake, the messages and the serializers both sides can
// choose from.
package protocol

import (
	"encoding/json"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake must be the same in host and worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "SERIALIZERS_EXAMPLE_WORKER",
	MagicCookieValue: "c0de-c5e1",
	ProtocolVersions: []int{1},
}

// Blob is a structured payload with binary data in it. Unlike a bare
// []byte, which travels raw, a struct goes through the serializer, so its
// bytes must survive the serializer's framing.
type Blob struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// Messages.
var (
	EchoBlob = shared.NewMessage[Blob, Blob]("echo-blob")
	EchoRaw  = shared.NewMessage[[]byte, []byte]("echo-raw") // raw bytes: never serialized
)

// PrettyJSON is a custom serializer: indented JSON, one frame per
// paragraph, so a dump of the socket reads like a log. It is correct
// because its output never contains its terminator "\n\n": every newline
// json.MarshalIndent writes is followed by indentation or a closing
// bracket, and encoding/json escapes newlines inside strings.
var PrettyJSON = shared.NewSerializer("json-pretty", "\n\n",
	func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") },
	json.Unmarshal,
)

// PrettyJSONCRLF is a different serializer that claims PrettyJSON's name:
// same encoding, another terminator. Host and worker tell the two apart by
// their fingerprints and refuse to talk.
var PrettyJSONCRLF = shared.NewSerializer("json-pretty", "\r\n\r\n",
	func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") },
	json.Unmarshal,
)

// BrokenJSON is what not to do: indented JSON framed by a single newline,
// which the indented output itself contains. The library refuses each such
// frame at send time rather than corrupt the stream.
var BrokenJSON = shared.NewSerializer("json-indent-newline", "\n",
	func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") },
	json.Unmarshal,
)

// Serializers are the serializers the worker's -serializer flag selects.
// With no flag the worker sets none, and so uses the default, JSON.
var Serializers = map[string]shared.Serializer{
	"json":           shared.JSON{},
	"msgpack":        shared.MsgPack{},
	"json-pretty":    PrettyJSON,
	"json-pretty-cr": PrettyJSONCRLF,
	"broken":         BrokenJSON,
}
