package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// FuzzJSONHeader checks the lean JSON header codec against encoding/json.
// Whenever parseJSONHeader accepts raw bytes, encoding/json must decode
// them to the same Header. A Header built from the other arguments must
// encode exactly as encoding/json encodes it and decode back to what
// encoding/json decodes (to itself, when its strings are valid UTF-8).
func FuzzJSONHeader(f *testing.F) {
	f.Add([]byte(`{"v":1,"k":1,"t":"echo","id":"7","h":{"a":"1"},"dl":5,"b":1,"n":0}`), 1, uint8(1), "echo", "id", "traceparent", "00-ab", int64(0), uint8(1), 0)
	f.Add([]byte(`{}`), 0, uint8(0), "", "", "", "", int64(0), uint8(0), 0)
	f.Add([]byte(`{ "v": 1 }`), -1, uint8(255), "<&>", "\u2028", "\xff", "\x00\n", int64(-1), uint8(255), -1)
	f.Add([]byte(`{"k":-0,"b":-0}`), 2, uint8(5), `"quoted\"`, `\`, "é", "日本", int64(1)<<62, uint8(2), 1<<40)
	f.Add([]byte(`{"h":{"a":"1"},"h":{"b":"2"}}`), 3, uint8(2), "t", "i", "k", "v", int64(9), uint8(0), 3)
	f.Add([]byte(`{"v":01,"t":"\u0041"}`), 4, uint8(3), "x", "y", "", "", int64(0), uint8(0), 0)
	f.Fuzz(func(t *testing.T, in []byte, v int, k uint8, typ, id, hk, hv string, dl int64, body uint8, n int) {
		// Real headers are short; long inputs only slow the fuzzer's
		// minimization, which is quadratic in their length.
		if len(in) > 256 || len(typ)+len(id)+len(hk)+len(hv) > 128 {
			return
		}
		identity := func(b []byte) string { return string(b) }
		var fast Header
		if parseJSONHeader(in, &fast, identity) {
			var std Header
			if err := json.Unmarshal(in, &std); err != nil {
				t.Fatalf("parseJSONHeader(%q) accepted what encoding/json refuses: %v", in, err)
			}
			if diff := cmp.Diff(std, fast); diff != "" {
				t.Fatalf("parseJSONHeader(%q) differs from encoding/json (-json +fast):\n%s", in, diff)
			}
		}

		h := Header{Version: v, Kind: shared.Kind(k), Type: typ, ID: id, Deadline: dl, Body: Body(body), RawLen: n}
		if hk != "" || hv != "" {
			h.Headers = map[string]string{hk: hv, "traceparent": hv + hk}
		}
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", h, err)
		}
		enc := appendJSONHeader(nil, &h)
		if !bytes.Equal(enc, want) {
			t.Fatalf("appendJSONHeader(%+v) = %s, want %s", h, enc, want)
		}
		if bytes.IndexByte(enc, '\n') >= 0 {
			t.Fatalf("appendJSONHeader(%+v) = %q, which contains the terminator", h, enc)
		}
		c := NewCodec(shared.JSON{}, 1<<20, 1<<20, []string{"echo"})
		var got, std Header
		if err := c.DecodeHeader(enc, &got); err != nil {
			t.Fatalf("DecodeHeader(%s) = %v", enc, err)
		}
		if err := json.Unmarshal(enc, &std); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v", enc, err)
		}
		if diff := cmp.Diff(std, got); diff != "" {
			t.Fatalf("DecodeHeader(%s) differs from encoding/json (-json +got):\n%s", enc, diff)
		}
		if validUTF8(typ, id, hk, hv) {
			// omitempty drops an empty map: no headers and {} are the same.
			if diff := cmp.Diff(h, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("DecodeHeader(appendJSONHeader(h)) mismatch (-want +got):\n%s", diff)
			}
		}
	})
}

// FuzzCodecRead feeds arbitrary bytes to Codec.Read, as a peer could send
// them, for each serializer. Read only ever returns a message, a
// *shared.FrameTooLargeError (after which it goes on reading) or one of
// the documented errors (io.EOF, io.ErrUnexpectedEOF, ErrMalformed, or a
// decode error of the serializer wrapped in ErrMalformed); it never panics
// or hangs; bodies stay within the limits; decoding a body into any value
// does not panic.
func FuzzCodecRead(f *testing.F) {
	// Inputs are capped: the fuzzer's minimization is quadratic in their
	// length, and a few hundred bytes hold several messages.
	const maxFrame, maxRaw, maxInput = 1 << 10, 1 << 10, 1 << 10
	for i, ser := range serializers {
		c := NewCodec(ser, maxFrame, maxRaw, nil)
		var stream []byte
		for _, m := range testMessages() {
			h := m.h
			out, raw, err := c.Encode(nil, &h, m.payload)
			if err != nil {
				f.Fatalf("Encode(%+v) = %v", m.h, err)
			}
			msg := append(out, raw...)
			f.Add(msg, uint8(i))
			f.Add(msg[:len(msg)/2], uint8(i))
			if len(stream)+len(msg) <= maxInput {
				stream = append(stream, msg...)
			}
		}
		f.Add(stream, uint8(i))
	}
	f.Add([]byte(`{"v":1,"k":2,"b":2,"n":1025}`+"\n"), uint8(0))
	f.Add([]byte(`{"v":1,"k":2,"b":2,"n":-1}`+"\n"), uint8(0))
	f.Add([]byte(`{"v":1,"k":1,"b":9}`+"\n"), uint8(0))
	f.Add([]byte(`{"v":1,"k":1,"b":1}`+"\n"), uint8(0))
	f.Add([]byte("\n\n\n"), uint8(0))
	f.Add([]byte("\x00\x00\x00\x00"), uint8(1))
	f.Add([]byte("\xc1\x00\x00\x86\x00\x00"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, sel uint8) {
		if len(in) > maxInput {
			return
		}
		ser := serializers[int(sel)%len(serializers)]
		c := NewCodec(ser, maxFrame, maxRaw, []string{"echo"})
		r := frame.NewReader(bufio.NewReaderSize(bytes.NewReader(in), 16+int(sel)), c.Terminator(), c.MaxFrame())
		for range len(in) + 1 { // every message consumes at least one byte
			h, body, err := c.Read(r)
			var tl *shared.FrameTooLargeError
			if errors.As(err, &tl) {
				if body != nil || tl.Size <= tl.Limit || (tl.Limit != maxFrame && tl.Limit != maxRaw) {
					t.Fatalf("%s: Read(%q) = %q, %v: want no body and a size over a limit", ser.Name(), in, body, err)
				}
				continue // skipped: the stream is still in step
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("%s: Read(%q) = %v, not a documented error", ser.Name(), in, err)
				}
				return
			}
			switch h.Body {
			case BodyNone:
				if body != nil {
					t.Fatalf("%s: Read(%q) = body %q for BodyNone", ser.Name(), in, body)
				}
			case BodyFrame:
				if len(body) > maxFrame || bytes.Contains(body, c.Terminator()) {
					t.Fatalf("%s: Read(%q) = payload frame %q", ser.Name(), in, body)
				}
			case BodyRaw:
				if len(body) != h.RawLen || h.RawLen < 0 || h.RawLen > maxRaw {
					t.Fatalf("%s: Read(%q) = raw body of %d bytes for n=%d, limit %d", ser.Name(), in, len(body), h.RawLen, maxRaw)
				}
			default:
				t.Fatalf("%s: Read(%q) returned unknown body kind %d without an error", ser.Name(), in, h.Body)
			}
			var anyV any
			c.DecodeBody(&h, body, &anyV)
			var b []byte
			c.DecodeBody(&h, body, &b)
			var re shared.RemoteError
			c.DecodeBody(&h, body, &re)
		}
		t.Fatalf("%s: Read(%q) returned more messages than input bytes", ser.Name(), in)
	})
}

// FuzzCodecResync writes messages with payloads of fuzzed sizes (frames
// and raw bodies) with generous limits and reads them with small ones.
// Each message comes back whole, or, when its payload is over a limit, as
// a *shared.FrameTooLargeError with the message's header and exact size;
// after a message too large, the next message read is exactly the next
// message written.
func FuzzCodecResync(f *testing.F) {
	f.Add([]byte{10, 200, 3, 0, 255, 64}, uint8(0), uint16(100), uint16(50))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(1), uint16(40), uint16(3))
	f.Add([]byte{255, 255, 0, 128}, uint8(2), uint16(60), uint16(0))
	f.Fuzz(func(t *testing.T, sizes []byte, sel uint8, maxFrame, maxRaw uint16) {
		if len(sizes) > 16 {
			return
		}
		ser := serializers[int(sel)%len(serializers)]
		big := NewCodec(ser, 1<<20, 1<<20, nil)
		small := NewCodec(ser, int(maxFrame), int(maxRaw), nil)
		type want struct {
			h        Header
			payload  any
			tooLarge int
		}
		var stream []byte
		var wants []want
		for i, sz := range sizes {
			h := Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: fmt.Sprint(i)}
			var payload any = echoRequest{Text: strings.Repeat("x", int(sz)/2)}
			if sz%2 == 1 {
				payload = bytes.Repeat([]byte{'\n'}, int(sz)) // raw, full of terminators
			}
			out, raw, err := big.Encode(nil, &h, payload)
			if err != nil {
				t.Fatalf("Encode(%+v) = %v", h, err)
			}
			w := want{h: h, payload: payload}
			// The frame limit first (a header too large hides the rest),
			// then the raw limit.
			frameOnly := NewCodec(ser, int(maxFrame), 1<<20, nil)
			_, _, err = frameOnly.Encode(nil, &Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: h.ID}, payload)
			if err == nil {
				_, _, err = small.Encode(nil, &Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: h.ID}, payload)
			}
			if err != nil {
				var tl *shared.FrameTooLargeError
				if !errors.As(err, &tl) {
					t.Fatalf("Encode(%+v) with small limits = %v, want a FrameTooLargeError", h, err)
				}
				if strings.HasSuffix(tl.What, "header") {
					continue // a header too large cannot be told from its payload: not written
				}
				w.tooLarge = tl.Size
			}
			stream = append(append(stream, out...), raw...)
			wants = append(wants, w)
		}
		r := frame.NewReader(bufio.NewReaderSize(bytes.NewReader(stream), 16+int(sel)), small.Terminator(), small.MaxFrame())
		for _, w := range wants {
			h, body, err := small.Read(r)
			var tl *shared.FrameTooLargeError
			if w.tooLarge > 0 {
				if !errors.As(err, &tl) || tl.Size != w.tooLarge || h.ID != w.h.ID {
					t.Fatalf("%s: Read() = header %q, %v, want message %q too large (%d bytes)", ser.Name(), h.ID, err, w.h.ID, w.tooLarge)
				}
				continue
			}
			if err != nil || h.ID != w.h.ID {
				t.Fatalf("%s: Read() = header %q, %v, want message %q", ser.Name(), h.ID, err, w.h.ID)
			}
			switch p := w.payload.(type) {
			case []byte:
				if !bytes.Equal(body, p) {
					t.Fatalf("%s: Read() of message %q = raw %q, want %q", ser.Name(), h.ID, body, p)
				}
			case echoRequest:
				var got echoRequest
				if err := small.DecodeBody(&h, body, &got); err != nil || got.Text != p.Text {
					t.Fatalf("%s: Read() of message %q = %q, %v, want %q", ser.Name(), h.ID, got.Text, err, p.Text)
				}
			}
		}
		if _, _, err := small.Read(r); err != io.EOF {
			t.Fatalf("%s: Read() after the last message = %v, want io.EOF", ser.Name(), err)
		}
	})
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
