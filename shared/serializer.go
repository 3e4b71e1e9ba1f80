package shared

import (
	"encoding/json"
	"fmt"
)

// Serializer encodes and decodes payloads. Marshal must never produce bytes
// that contain Terminator: the frame layer refuses such a message at send
// time with ErrTerminatorInFrame rather than corrupt the stream.
//
// A Serializer must be safe for concurrent use.
type Serializer interface {
	// Name identifies the serializer in the handshake; host and worker must
	// use the same name.
	Name() string
	// Terminator ends every frame. It must not be empty.
	Terminator() []byte
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// Fingerprinter is implemented by serializers that want to decide how two
// serializers with the same name are told apart. Without it the fingerprint
// is derived from what defines the encoding: the name, the terminator and
// the encoding version (see [EncodingVersioner]).
type Fingerprinter interface {
	Fingerprint() string
}

// EncodingVersioner is implemented by serializers that declare the version
// of the encoding they write. Two serializers with one name and terminator
// but different encoding versions have different fingerprints, so host and
// worker refuse to talk instead of misreading each other's bytes. Change
// the version whenever the bytes written for a value change. [JSON] and
// [MsgPack] declare "1"; a serializer that declares nothing has version
// "0".
type EncodingVersioner interface {
	EncodingVersion() string
}

// Fingerprint returns the value host and worker compare in the hello to
// detect two different serializers that share a name:
// <name>/<terminator in lowercase hex>/<encoding version>, for example
// "json/0a/1" for [JSON] and "msgpack/0000/1" for [MsgPack], unless the
// serializer is a [Fingerprinter]. It names the encoding, not a Go type,
// so a worker in any language can send it.
func Fingerprint(s Serializer) string {
	if f, ok := s.(Fingerprinter); ok {
		return f.Fingerprint()
	}
	version := "0"
	if v, ok := s.(EncodingVersioner); ok && v.EncodingVersion() != "" {
		version = v.EncodingVersion()
	}
	return fmt.Sprintf("%s/%x/%s", s.Name(), s.Terminator(), version)
}

// NewSerializer builds a Serializer from a name, a terminator given as a
// string (for example "\n" or "\x00\x00") and two functions. Two serializers
// built by NewSerializer with the same name and terminator have the same
// fingerprint (encoding version "0"), so give each distinct encoding its
// own name, or its own type that declares an [EncodingVersioner] version.
func NewSerializer(name, terminator string, marshal func(any) ([]byte, error), unmarshal func([]byte, any) error) Serializer {
	return &funcSerializer{name: name, term: []byte(terminator), marshal: marshal, unmarshal: unmarshal}
}

type funcSerializer struct {
	name      string
	term      []byte
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}

func (s *funcSerializer) Name() string                    { return s.name }
func (s *funcSerializer) Terminator() []byte              { return s.term }
func (s *funcSerializer) Marshal(v any) ([]byte, error)   { return s.marshal(v) }
func (s *funcSerializer) Unmarshal(b []byte, v any) error { return s.unmarshal(b, v) }

// JSON is the default serializer: encoding/json, one message per line.
// encoding/json escapes newlines inside strings, so its output never
// contains the terminator.
type JSON struct{}

var (
	_ Serializer        = JSON{}
	_ EncodingVersioner = JSON{}
)

// Name returns "json".
func (JSON) Name() string { return "json" }

// Terminator returns "\n".
func (JSON) Terminator() []byte { return []byte{'\n'} }

// EncodingVersion returns "1": encoding/json's output, compact.
func (JSON) EncodingVersion() string { return "1" }

// Marshal encodes v with encoding/json.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes data into v with encoding/json.
func (JSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// ValidateSerializer reports whether s can frame messages.
func ValidateSerializer(s Serializer) error {
	if s == nil {
		return fmt.Errorf("serializer is nil")
	}
	if s.Name() == "" {
		return fmt.Errorf("serializer %T has an empty name", s)
	}
	if len(s.Terminator()) == 0 {
		return fmt.Errorf("serializer %q has an empty terminator", s.Name())
	}
	return nil
}
