package shared

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack is the MessagePack serializer (vmihailenco/msgpack/v5), framed by
// two zero bytes. MessagePack output is full of zero bytes, so MsgPack
// escapes them: 0x00 is written as 0x01 0x02 and 0x01 as 0x01 0x03. Its
// frames never contain a zero byte, binary payloads included, at a cost of
// about 1% for random binary data.
//
// Struct fields use their msgpack tag, or else their json tag, so types
// written for JSON work unchanged.
type MsgPack struct{}

var (
	_ Serializer        = MsgPack{}
	_ EncodingVersioner = MsgPack{}
)

// Name returns "msgpack".
func (MsgPack) Name() string { return "msgpack" }

// Terminator returns 0x00 0x00.
func (MsgPack) Terminator() []byte { return []byte{0, 0} }

// EncodingVersion returns "1": MessagePack with struct fields named by
// their msgpack or json tag, 0x00 and 0x01 escaped as described above.
func (MsgPack) EncodingVersion() string { return "1" }

var msgpackEncoders = sync.Pool{New: func() any {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	return &msgpackEncoder{enc: enc, buf: &buf}
}}

type msgpackEncoder struct {
	enc *msgpack.Encoder
	buf *bytes.Buffer
}

// Marshal encodes v and escapes zero bytes.
func (MsgPack) Marshal(v any) ([]byte, error) {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	defer msgpackEncoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return escapeZeros(e.buf.Bytes()), nil
}

// Unmarshal unescapes data and decodes it into v.
func (MsgPack) Unmarshal(data []byte, v any) error {
	raw, err := unescapeZeros(data)
	if err != nil {
		return err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(raw))
	dec.SetCustomStructTag("json")
	return dec.Decode(v)
}

// escapeZeros returns a fresh copy of b with 0x00 and 0x01 escaped.
func escapeZeros(b []byte) []byte {
	n := 0
	for _, c := range b {
		if c <= 1 {
			n++
		}
	}
	out := make([]byte, 0, len(b)+n)
	for _, c := range b {
		if c <= 1 {
			out = append(out, 1, c+2)
			continue
		}
		out = append(out, c)
	}
	return out
}

func unescapeZeros(b []byte) ([]byte, error) {
	if bytes.IndexByte(b, 1) < 0 {
		if bytes.IndexByte(b, 0) >= 0 {
			return nil, fmt.Errorf("msgpack frame: unescaped zero byte")
		}
		return b, nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case 0:
			return nil, fmt.Errorf("msgpack frame: unescaped zero byte at %d", i)
		case 1:
			if i+1 >= len(b) || (b[i+1] != 2 && b[i+1] != 3) {
				return nil, fmt.Errorf("msgpack frame: bad escape at byte %d", i)
			}
			out = append(out, b[i+1]-2)
			i++
		default:
			out = append(out, c)
		}
	}
	return out, nil
}
