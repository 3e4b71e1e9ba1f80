package shared

import (
	"bytes"
	"testing"
)

// FuzzMsgPackEscape checks that zero-byte escaping round-trips any bytes,
// never produces a zero byte, and that unescaping arbitrary bytes (which
// arrive from the other process) returns an error rather than panicking.
func FuzzMsgPackEscape(f *testing.F) {
	for _, seed := range [][]byte{
		nil, {0}, {1}, {2}, {3}, {0, 0}, {1, 2}, {1, 3}, {1, 1, 0, 0},
		[]byte("plain text"), {0x92, 0x01, 0xc4, 0x00},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		esc := escapeZeros(data)
		if i := bytes.IndexByte(esc, 0); i >= 0 {
			t.Fatalf("escapeZeros(%x) = %x, has a zero byte at %d", data, esc, i)
		}
		got, err := unescapeZeros(esc)
		if err != nil {
			t.Fatalf("unescapeZeros(escapeZeros(%x)) = %v", data, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("unescapeZeros(escapeZeros(%x)) = %x, want the input", data, got)
		}

		// Whatever the other side sends: an error or bytes, never a panic,
		// and escaping the result gives back the input.
		if raw, err := unescapeZeros(data); err == nil {
			if again := escapeZeros(raw); !bytes.Equal(again, data) {
				t.Fatalf("escapeZeros(unescapeZeros(%x)) = %x, want the input", data, again)
			}
		}

		// Through the serializer: a []byte payload round-trips and its frame
		// never holds a zero byte.
		b, err := MsgPack{}.Marshal(data)
		if err != nil {
			t.Fatalf("MsgPack.Marshal(%x) = %v", data, err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			t.Fatalf("MsgPack.Marshal(%x) = %x, has a zero byte", data, b)
		}
		var back []byte
		if err := (MsgPack{}).Unmarshal(b, &back); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("MsgPack.Unmarshal(MsgPack.Marshal(%x)) = %x, %v, want the input", data, back, err)
		}
	})
}

func TestEscapeZeros(t *testing.T) {
	tests := []struct {
		in, want []byte
	}{
		{[]byte{}, []byte{}},
		{[]byte{0}, []byte{1, 2}},
		{[]byte{1}, []byte{1, 3}},
		{[]byte{2, 0, 1, 3}, []byte{2, 1, 2, 1, 3, 3}},
		{[]byte("abc"), []byte("abc")},
	}
	for _, tt := range tests {
		if got := escapeZeros(tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("escapeZeros(%x) = %x, want %x", tt.in, got, tt.want)
		}
	}
}

func TestEscapeZerosCopies(t *testing.T) {
	in := []byte("no zeros")
	out := escapeZeros(in)
	out[0] = 'X'
	if in[0] != 'n' {
		t.Errorf("escapeZeros returned its input's memory; want a fresh copy")
	}
}
