package shared

import (
	"encoding/json"
	"fmt"
	"reflect"
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
// is derived from the name, the terminator and the Go type.
type Fingerprinter interface {
	Fingerprint() string
}

// Fingerprint returns the value host and worker compare in the hello to
// detect two different serializers that share a name.
func Fingerprint(s Serializer) string {
	if f, ok := s.(Fingerprinter); ok {
		return f.Fingerprint()
	}
	return fmt.Sprintf("%s/%x/%s", s.Name(), s.Terminator(), reflect.TypeOf(s).String())
}

// NewSerializer builds a Serializer from a name, a terminator given as a
// string (for example "\n" or "\x00\x00") and two functions. Two serializers
// built by NewSerializer with the same name and terminator have the same
// fingerprint, so give each distinct encoding its own name.
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

var _ Serializer = JSON{}

// Name returns "json".
func (JSON) Name() string { return "json" }

// Terminator returns "\n".
func (JSON) Terminator() []byte { return []byte{'\n'} }

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
