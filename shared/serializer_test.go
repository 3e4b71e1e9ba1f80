package shared_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// payload has a json tag only: MsgPack must honour it too.
type payload struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Data  []byte            `json:"data,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

// binaryPayloads are byte strings that contain the bytes MsgPack escapes.
var binaryPayloads = []struct {
	name string
	data []byte
}{
	{"empty", []byte{}},
	{"zero", []byte{0}},
	{"one", []byte{1}},
	{"zeros", []byte{0, 0, 0, 0}},
	{"terminator", []byte{'a', 0, 0, 'b'}},
	{"escape-like", []byte{1, 2, 1, 3, 0, 1}},
	{"all bytes", allBytes()},
	{"newline", []byte("line\nline\n")},
}

func allBytes() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestSerializerNames(t *testing.T) {
	tests := []struct {
		s        shared.Serializer
		wantName string
		wantTerm []byte
	}{
		{shared.JSON{}, "json", []byte("\n")},
		{shared.MsgPack{}, "msgpack", []byte{0, 0}},
	}
	for _, tt := range tests {
		if got := tt.s.Name(); got != tt.wantName {
			t.Errorf("%T.Name() = %q, want %q", tt.s, got, tt.wantName)
		}
		if got := tt.s.Terminator(); !bytes.Equal(got, tt.wantTerm) {
			t.Errorf("%T.Terminator() = %q, want %q", tt.s, got, tt.wantTerm)
		}
		if err := shared.ValidateSerializer(tt.s); err != nil {
			t.Errorf("ValidateSerializer(%T) = %v, want nil", tt.s, err)
		}
	}
}

func TestSerializerRoundTrip(t *testing.T) {
	values := []payload{
		{},
		{Name: "plain", Count: 1},
		{Name: "multi\nline\r\n", Count: -7, Tags: map[string]string{"k": "v\n"}},
		{Name: "nul \x00 in a string", Count: 1 << 40},
		{Name: "binary", Data: allBytes()},
		{Name: "zeros", Data: make([]byte, 100)},
	}
	for _, s := range []shared.Serializer{shared.JSON{}, shared.MsgPack{}} {
		for _, v := range values {
			t.Run(s.Name()+"/"+v.Name, func(t *testing.T) {
				b, err := s.Marshal(v)
				if err != nil {
					t.Fatalf("Marshal(%+v) = %v", v, err)
				}
				if bytes.Contains(b, s.Terminator()) {
					t.Errorf("Marshal(%+v) = %q, contains the terminator %q", v, b, s.Terminator())
				}
				var got payload
				if err := s.Unmarshal(b, &got); err != nil {
					t.Fatalf("Unmarshal(Marshal(%+v)) = %v", v, err)
				}
				if diff := cmp.Diff(v, got, cmpEmptyBytes); diff != "" {
					t.Errorf("round trip mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// cmpEmptyBytes treats nil and empty byte slices as equal: neither format
// keeps the difference.
var cmpEmptyBytes = cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })

func TestMsgPackBinaryPayloads(t *testing.T) {
	s := shared.MsgPack{}
	for _, tt := range binaryPayloads {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []any{tt.data, string(tt.data), payload{Data: tt.data}} {
				b, err := s.Marshal(v)
				if err != nil {
					t.Fatalf("Marshal(%T %q) = %v", v, tt.data, err)
				}
				if i := bytes.IndexByte(b, 0); i >= 0 {
					t.Errorf("Marshal(%T %q) = %x, has a zero byte at %d", v, tt.data, b, i)
				}
				switch v := v.(type) {
				case []byte:
					var got []byte
					if err := s.Unmarshal(b, &got); err != nil || !bytes.Equal(got, v) {
						t.Errorf("Unmarshal(Marshal(%x)) = %x, %v, want %x, nil", v, got, err, v)
					}
				case string:
					var got string
					if err := s.Unmarshal(b, &got); err != nil || got != v {
						t.Errorf("Unmarshal(Marshal(%q)) = %q, %v, want %q, nil", v, got, err, v)
					}
				case payload:
					var got payload
					if err := s.Unmarshal(b, &got); err != nil || !bytes.Equal(got.Data, v.Data) {
						t.Errorf("Unmarshal(Marshal(%+v)) = %+v, %v, want %+v, nil", v, got, err, v)
					}
				}
			}
		})
	}
}

func TestMsgPackUsesJSONTags(t *testing.T) {
	b, err := shared.MsgPack{}.Marshal(payload{Name: "x", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := (shared.MsgPack{}).Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["name"]; !ok {
		t.Errorf("MsgPack.Marshal(payload) keys = %v, want the json tag names (name, count)", m)
	}
}

func TestMsgPackUnmarshalMalformed(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"raw zero", []byte{0x92, 0x00, 0x05}, "msgpack frame: unescaped zero byte"},
		{"raw zero after escape", []byte{0x92, 0x01, 0x02, 0x00}, "msgpack frame: unescaped zero byte at 3"},
		{"escape at end", []byte{0x92, 0x05, 0x01}, "msgpack frame: bad escape at byte 2"},
		{"escape of 0x04", []byte{0x01, 0x04}, "msgpack frame: bad escape at byte 0"},
		{"escape of 0x00", []byte{0x05, 0x01, 0x00}, "msgpack frame: bad escape at byte 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			err := shared.MsgPack{}.Unmarshal(tt.data, &v)
			if err == nil || err.Error() != tt.want {
				t.Errorf("MsgPack.Unmarshal(%x) = %v, want %q", tt.data, err, tt.want)
			}
		})
	}
}

func TestMsgPackUnmarshalTruncated(t *testing.T) {
	b, err := shared.MsgPack{}.Marshal(payload{Name: "truncated", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got payload
	if err := (shared.MsgPack{}).Unmarshal(b[:len(b)/2], &got); err == nil {
		t.Errorf("MsgPack.Unmarshal(half a message) = nil, want an error")
	}
}

func TestMsgPackMarshalError(t *testing.T) {
	if _, err := (shared.MsgPack{}).Marshal(make(chan int)); err == nil {
		t.Errorf("MsgPack.Marshal(chan) = nil error, want one")
	}
}

func TestJSONMarshalNeverContainsNewline(t *testing.T) {
	b, err := shared.JSON{}.Marshal(map[string]string{"a\nb": "c\nd\r\n"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		t.Errorf("JSON.Marshal(strings with newlines) = %q, contains a newline", b)
	}
}

// funcs returns a marshal/unmarshal pair based on encoding/json.
func jsonFuncs() (func(any) ([]byte, error), func([]byte, any) error) {
	return json.Marshal, json.Unmarshal
}

func TestNewSerializer(t *testing.T) {
	marshal, unmarshal := jsonFuncs()
	s := shared.NewSerializer("json-nul", "\x00\x00", marshal, unmarshal)
	if got, want := s.Name(), "json-nul"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if got, want := s.Terminator(), []byte{0, 0}; !bytes.Equal(got, want) {
		t.Errorf("Terminator() = %x, want %x", got, want)
	}
	if err := shared.ValidateSerializer(s); err != nil {
		t.Errorf("ValidateSerializer(NewSerializer(...)) = %v, want nil", err)
	}
	in := payload{Name: "n", Count: 9}
	b, err := s.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var got payload
	if err := s.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}

	boom := errors.New("boom")
	failing := shared.NewSerializer("failing", "\n",
		func(any) ([]byte, error) { return nil, boom },
		func([]byte, any) error { return boom })
	if _, err := failing.Marshal(1); !errors.Is(err, boom) {
		t.Errorf("Marshal = %v, want the marshal function's error", err)
	}
	if err := failing.Unmarshal(nil, new(int)); !errors.Is(err, boom) {
		t.Errorf("Unmarshal = %v, want the unmarshal function's error", err)
	}
}

// otherJSON is another Go type that writes JSON's encoding under JSON's
// name: the same encoding, so the same fingerprint.
type otherJSON struct{ shared.JSON }

// jsonV2 claims JSON's name and terminator but declares another encoding
// version: a different serializer.
type jsonV2 struct{ shared.JSON }

func (jsonV2) EncodingVersion() string { return "2" }

// fingerprinted decides its own fingerprint.
type fingerprinted struct{ shared.JSON }

func (fingerprinted) Fingerprint() string { return "custom-fp" }

func TestFingerprint(t *testing.T) {
	marshal, unmarshal := jsonFuncs()
	tests := []struct {
		name      string
		a, b      shared.Serializer
		wantEqual bool
	}{
		{"same type JSON", shared.JSON{}, shared.JSON{}, true},
		{"same type MsgPack", shared.MsgPack{}, shared.MsgPack{}, true},
		{"JSON vs MsgPack", shared.JSON{}, shared.MsgPack{}, false},
		{"same encoding, different Go type", shared.JSON{}, otherJSON{}, true},
		{"same name and terminator, different encoding version", shared.JSON{}, jsonV2{}, false},
		{"same name, NewSerializer vs JSON", shared.JSON{}, shared.NewSerializer("json", "\n", marshal, unmarshal), false},
		{"NewSerializer, same name and terminator", shared.NewSerializer("x", "\n", marshal, unmarshal), shared.NewSerializer("x", "\n", marshal, unmarshal), true},
		{"NewSerializer, different terminator", shared.NewSerializer("x", "\n", marshal, unmarshal), shared.NewSerializer("x", "\x00", marshal, unmarshal), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa, fb := shared.Fingerprint(tt.a), shared.Fingerprint(tt.b)
			if (fa == fb) != tt.wantEqual {
				t.Errorf("Fingerprint(%T) = %q, Fingerprint(%T) = %q; equal = %v, want %v", tt.a, fa, tt.b, fb, fa == fb, tt.wantEqual)
			}
		})
	}
	for _, tt := range []struct {
		s    shared.Serializer
		want string
	}{
		{shared.JSON{}, "json/0a/1"},
		{shared.MsgPack{}, "msgpack/0000/1"},
		{jsonV2{}, "json/0a/2"},
		{shared.NewSerializer("json-pretty", "\n\n", marshal, unmarshal), "json-pretty/0a0a/0"},
	} {
		if got := shared.Fingerprint(tt.s); got != tt.want {
			t.Errorf("Fingerprint(%T) = %q, want %q (name/terminator/encoding version, no Go type)", tt.s, got, tt.want)
		}
	}
	if got, want := shared.Fingerprint(fingerprinted{}), "custom-fp"; got != want {
		t.Errorf("Fingerprint(Fingerprinter) = %q, want %q", got, want)
	}
}

// badSerializer lets each method's answer be chosen.
type badSerializer struct {
	name string
	term []byte
}

func (s badSerializer) Name() string              { return s.name }
func (s badSerializer) Terminator() []byte        { return s.term }
func (badSerializer) Marshal(any) ([]byte, error) { return nil, nil }
func (badSerializer) Unmarshal([]byte, any) error { return nil }

var _ shared.Serializer = badSerializer{}

func TestValidateSerializer(t *testing.T) {
	tests := []struct {
		name string
		s    shared.Serializer
		want string // "" for no error
	}{
		{"valid", badSerializer{name: "ok", term: []byte{'\n'}}, ""},
		{"nil", nil, "serializer is nil"},
		{"empty name", badSerializer{term: []byte{'\n'}}, "serializer shared_test.badSerializer has an empty name"},
		{"empty terminator", badSerializer{name: "noterm"}, `serializer "noterm" has an empty terminator`},
		{"NewSerializer with empty terminator", shared.NewSerializer("fn", "", nil, nil), `serializer "fn" has an empty terminator`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := shared.ValidateSerializer(tt.s)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("ValidateSerializer(%#v) = %q, want %q", tt.s, got, tt.want)
			}
		})
	}
}

func TestValidateSerializerTextNamesType(t *testing.T) {
	err := shared.ValidateSerializer(shared.NewSerializer("", "\n", nil, nil))
	if err == nil || !strings.Contains(err.Error(), "has an empty name") {
		t.Errorf("ValidateSerializer(NewSerializer(\"\", ...)) = %v, want an empty name error", err)
	}
}
