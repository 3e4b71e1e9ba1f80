package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// hexJSON is a custom serializer that is not JSON on the wire: JSON,
// hex-encoded, framed by two zero bytes. Its output never contains a zero
// byte.
var hexJSON = shared.NewSerializer("hexjson", "\x00\x00",
	func(v any) ([]byte, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return hex.AppendEncode(nil, b), nil
	},
	func(data []byte, v any) error {
		b, err := hex.AppendDecode(nil, data)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, v)
	})

// pipeJSON is JSON framed by "|": any message with a "|" in it cannot be
// framed and must be refused.
var pipeJSON = shared.NewSerializer("pipejson", "|", json.Marshal, json.Unmarshal)

// serializers are the codecs every round trip runs through.
var serializers = []shared.Serializer{shared.JSON{}, hexJSON, shared.MsgPack{}}

type echoRequest struct {
	Text  string            `json:"text"`
	N     int               `json:"n"`
	Tags  []string          `json:"tags,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

type echoResult struct {
	Text string `json:"text"`
	At   int64  `json:"at"`
}

// message is one envelope as a sender gives it to Encode and a reader
// should see it.
type message struct {
	h       Header
	payload any
}

func testMessages() []message {
	deadline := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	return []message{
		{
			h: Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: "6f1d3c8e-0000-4000-8000-000000000001",
				Headers:  map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "user": "ana"},
				Deadline: deadline},
			payload: echoRequest{Text: "hello\nworld \x00 \"quoted\" <b>&</b> é 日本", N: -3, Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"}},
		},
		{
			h:       Header{Version: 1, Kind: shared.KindResult, Type: "echo", ID: "6f1d3c8e-0000-4000-8000-000000000001", Events: 20000},
			payload: echoResult{Text: "hello", At: 1 << 40},
		},
		{
			h: Header{Version: 2, Kind: shared.KindRequest, Type: "ping", ID: "2"},
		},
		{
			h:       Header{Version: 1, Kind: shared.KindRequest, Type: "upload", ID: "3"},
			payload: []byte("raw\x00\x00bytes\nwith|every\r\nterminator"),
		},
		{
			h:       Header{Version: 1, Kind: shared.KindResult, Type: "upload", ID: "3"},
			payload: []byte{},
		},
		{
			h:       Header{Version: 1, Kind: shared.KindError, Type: "echo", ID: "4", Events: 1},
			payload: &shared.RemoteError{Message: "open /x: no such file", Code: shared.CodeHandler, Type: "*fs.PathError", Class: "permanent", RetryAfterMillis: 250},
		},
		{
			h: Header{Version: 1, Kind: shared.KindCancel, Type: "echo", ID: "5"},
		},
		{
			h:       Header{Version: 1, Kind: shared.KindEvent, Type: "progress", ID: "e-1", Headers: map[string]string{"traceparent": "t"}},
			payload: map[string]int{"done": 3, "total": 10},
		},
	}
}

// wantHeader is the header a reader sees for m: Body and RawLen follow the
// payload.
func wantHeader(m message) Header {
	h := m.h
	switch p := m.payload.(type) {
	case nil:
		h.Body = BodyNone
	case []byte:
		h.Body, h.RawLen = BodyRaw, len(p)
	default:
		h.Body = BodyFrame
	}
	return h
}

func TestCodecRoundTrip(t *testing.T) {
	for _, ser := range serializers {
		for _, rd := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"OneByteReader", iotest.OneByteReader},
			{"HalfReader", iotest.HalfReader},
		} {
			t.Run(ser.Name()+"/"+rd.name, func(t *testing.T) {
				c := NewCodec(ser, 1<<20, 1<<20, []string{"echo", "ping"})
				msgs := testMessages()
				var stream []byte
				for _, m := range msgs {
					h := m.h
					out, raw, err := c.Encode(stream, &h, m.payload)
					if err != nil {
						t.Fatalf("Encode(%+v, %v) = %v", m.h, m.payload, err)
					}
					if diff := cmp.Diff(wantHeader(m), h); diff != "" {
						t.Errorf("Encode(%+v) left the header mismatched (-want +got):\n%s", m.h, diff)
					}
					stream = append(out, raw...)
				}
				r := frame.NewReader(bufio.NewReaderSize(rd.wrap(bytes.NewReader(stream)), 16), c.Terminator(), c.MaxFrame())
				for _, m := range msgs {
					h, body, err := c.Read(r)
					if err != nil {
						t.Fatalf("Read() for %+v = %v", m.h, err)
					}
					if diff := cmp.Diff(wantHeader(m), h); diff != "" {
						t.Errorf("Read() header mismatch (-want +got):\n%s", diff)
					}
					checkBody(t, c, &h, body, m.payload)
				}
				if _, _, err := c.Read(r); err != io.EOF {
					t.Errorf("Read() after the last message = %v, want io.EOF", err)
				}
			})
		}
	}
}

// checkBody decodes body into a value of the payload's type and compares.
func checkBody(t *testing.T, c *Codec, h *Header, body []byte, payload any) {
	t.Helper()
	var got, want any
	switch p := payload.(type) {
	case nil:
		if body != nil {
			t.Errorf("Read() body = %q for a message without payload, want nil", body)
		}
		return
	case []byte:
		var b []byte
		err := c.DecodeBody(h, body, &b)
		got, want = b, p
		if err != nil {
			t.Fatalf("DecodeBody(raw, *[]byte) = %v", err)
		}
	case echoRequest:
		var v echoRequest
		if err := c.DecodeBody(h, body, &v); err != nil {
			t.Fatalf("DecodeBody(%s) = %v", body, err)
		}
		got, want = v, p
	case echoResult:
		var v echoResult
		if err := c.DecodeBody(h, body, &v); err != nil {
			t.Fatalf("DecodeBody(%s) = %v", body, err)
		}
		got, want = v, p
	case *shared.RemoteError:
		v := new(shared.RemoteError)
		if err := c.DecodeBody(h, body, v); err != nil {
			t.Fatalf("DecodeBody(%s) = %v", body, err)
		}
		got, want = v, p
	case map[string]int:
		var v map[string]int
		if err := c.DecodeBody(h, body, &v); err != nil {
			t.Fatalf("DecodeBody(%s) = %v", body, err)
		}
		got, want = v, p
	default:
		t.Fatalf("checkBody: no case for %T", payload)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeBody(%s %q) mismatch (-want +got):\n%s", h.Kind, h.Type, diff)
	}
}

func TestCodecJSONWireForm(t *testing.T) {
	// The JSON envelope on the wire: a header line, then the payload line.
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	tests := []struct {
		h       Header
		payload any
		want    string
		raw     string
	}{
		{
			h:       Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: "42", Headers: map[string]string{"traceparent": "00-ab-cd-01"}, Deadline: 1700000000000000000},
			payload: echoRequest{Text: "hi", N: 1},
			want:    `{"v":1,"k":1,"t":"echo","id":"42","h":{"traceparent":"00-ab-cd-01"},"dl":1700000000000000000,"b":1}` + "\n" + `{"text":"hi","n":1}` + "\n",
		},
		{
			h:    Header{Version: 1, Kind: shared.KindCancel, Type: "echo", ID: "42"},
			want: `{"v":1,"k":4,"t":"echo","id":"42"}` + "\n",
		},
		{
			h:       Header{Version: 1, Kind: shared.KindResult, Type: "blob", ID: "7"},
			payload: []byte("a\nb"),
			want:    `{"v":1,"k":2,"t":"blob","id":"7","b":2,"n":3}` + "\n",
			raw:     "a\nb",
		},
		{
			h:       Header{Version: 1, Kind: shared.KindError, Type: "echo", ID: "8"},
			payload: &shared.RemoteError{Message: "boom", Code: shared.CodeHandler, Type: "*errors.errorString"},
			want:    `{"v":1,"k":3,"t":"echo","id":"8","b":1}` + "\n" + `{"message":"boom","code":"handler","type":"*errors.errorString"}` + "\n",
		},
	}
	for _, tt := range tests {
		h := tt.h
		out, raw, err := c.Encode(nil, &h, tt.payload)
		if string(out) != tt.want || string(raw) != tt.raw || err != nil {
			t.Errorf("Encode(%+v, %v) = %q, %q, %v, want %q, %q, nil", tt.h, tt.payload, out, raw, err, tt.want, tt.raw)
		}
	}
}

func TestCodecEncodeAppendsToDst(t *testing.T) {
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	h := Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: strings.Repeat("i", 100)}
	want := `{"v":1,"k":1,"t":"echo","id":"` + strings.Repeat("i", 100) + `","b":1}` + "\n" + `{"text":"x","n":0}` + "\n"
	for _, capacity := range []int{0, 8, 64, 4096} {
		dst := append(make([]byte, 0, capacity), "previous\n"...)
		out, _, err := c.Encode(dst, &h, echoRequest{Text: "x"})
		if err != nil || string(out) != "previous\n"+want {
			t.Errorf("Encode(dst with cap %d) = %q, %v, want %q", capacity, out, err, "previous\n"+want)
		}
	}
}

func TestCodecEncodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		ser      shared.Serializer
		maxFrame int
		maxRaw   int
		h        Header
		payload  any
		wantErr  string
		is       error
	}{
		{
			name: "payload contains the terminator", ser: pipeJSON,
			h: Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: "1"}, payload: echoRequest{Text: "a|b"},
			wantErr: `encode request "echo": serialized message contains the frame terminator ("|" at byte 10): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{
			name: "header contains the terminator", ser: pipeJSON,
			h:       Header{Version: 1, Kind: shared.KindRequest, Type: "a|b", ID: "1"},
			wantErr: `encode request "a|b": serialized message contains the frame terminator ("|" at byte 19): the serializer must escape it`,
			is:      shared.ErrTerminatorInFrame,
		},
		{
			name: "payload frame over max", ser: shared.JSON{}, maxFrame: 40,
			h: Header{Version: 1, Kind: shared.KindResult, Type: "echo"}, payload: echoRequest{Text: strings.Repeat("x", 40)},
			wantErr: `encode result "echo": frame exceeds the maximum frame size: result of 57 bytes, limit 40`,
			is:      shared.ErrFrameTooLarge,
		},
		{
			name: "header frame over max", ser: shared.JSON{}, maxFrame: 10,
			h:       Header{Version: 1, Kind: shared.KindCancel, Type: "echo"},
			wantErr: `encode cancel "echo": frame exceeds the maximum frame size: cancel header of 24 bytes, limit 10`,
			is:      shared.ErrFrameTooLarge,
		},
		{
			name: "raw payload over max", ser: shared.JSON{}, maxRaw: 3,
			h: Header{Version: 1, Kind: shared.KindResult, Type: "blob"}, payload: []byte("abcd"),
			wantErr: `encode result "blob": frame exceeds the maximum frame size: raw result of 4 bytes, limit 3`,
			is:      shared.ErrFrameTooLarge,
		},
		{
			name: "payload cannot be marshalled", ser: shared.JSON{},
			h: Header{Version: 1, Kind: shared.KindRequest, Type: "bad"}, payload: func() {},
			wantErr: `encode request "bad" with json: json: unsupported type: func()`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCodec(tt.ser, or(tt.maxFrame, 1<<20), or(tt.maxRaw, 1<<20), nil)
			h := tt.h
			out, raw, err := c.Encode([]byte("keep"), &h, tt.payload)
			if errText(err) != tt.wantErr {
				t.Errorf("Encode(%+v, %v) = %q, want %q", tt.h, tt.payload, errText(err), tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Encode(%+v) = %v, want errors.Is %v", tt.h, err, tt.is)
			}
			if string(out) != "keep" || raw != nil {
				t.Errorf("Encode(%+v) failed but returned %q, %q, want dst unchanged and no raw", tt.h, out, raw)
			}
		})
	}
}

func TestCodecReadErrors(t *testing.T) {
	tests := []struct {
		name    string
		ser     shared.Serializer
		maxRaw  int
		in      string
		wantErr string
		is      error
	}{
		{name: "header not JSON", ser: shared.JSON{}, in: "hello\n", wantErr: "malformed message: header: invalid character 'h' looking for beginning of value", is: ErrMalformed},
		{name: "header is an array", ser: shared.JSON{}, in: "[1]\n", wantErr: "malformed message: header: json: cannot unmarshal array into Go value of type wire.Header", is: ErrMalformed},
		{name: "version is a string", ser: shared.JSON{}, in: `{"v":"1","k":1}` + "\n", wantErr: `malformed message: header: json: cannot unmarshal string into Go struct field Header.v of type int`, is: ErrMalformed},
		{name: "kind out of range", ser: shared.JSON{}, in: `{"v":1,"k":300}` + "\n", wantErr: `malformed message: header: json: cannot unmarshal number 300 into Go struct field Header.k of type shared.Kind`, is: ErrMalformed},
		{name: "kind minus zero", ser: shared.JSON{}, in: `{"v":1,"k":-0}` + "\n", wantErr: `malformed message: header: json: cannot unmarshal number -0 into Go struct field Header.k of type shared.Kind`, is: ErrMalformed},
		{name: "unknown body kind", ser: shared.JSON{}, in: `{"v":1,"k":1,"b":3}` + "\n", wantErr: "malformed message: unknown body kind 3", is: ErrMalformed},
		{name: "payload missing", ser: shared.JSON{}, in: `{"v":1,"k":1,"t":"echo","b":1}` + "\n", wantErr: `malformed message: stream ended before the payload of request "echo"`, is: ErrMalformed},
		{name: "payload cut", ser: shared.JSON{}, in: `{"v":1,"k":1,"t":"echo","b":1}` + "\n{", wantErr: "unexpected EOF", is: io.ErrUnexpectedEOF},
		{name: "header cut", ser: shared.JSON{}, in: `{"v":1,"k":1`, wantErr: "unexpected EOF", is: io.ErrUnexpectedEOF},
		{name: "raw cut", ser: shared.JSON{}, in: `{"v":1,"k":2,"b":2,"n":5}` + "\nabc", wantErr: "unexpected EOF", is: io.ErrUnexpectedEOF},
		{name: "raw over limit", ser: shared.JSON{}, maxRaw: 4, in: `{"v":1,"k":2,"b":2,"n":5}` + "\nabcde", wantErr: "frame exceeds the maximum frame size: raw result of 5 bytes, limit 4", is: shared.ErrFrameTooLarge},
		{name: "raw length huge", ser: shared.JSON{}, in: `{"v":1,"k":2,"b":2,"n":9223372036854775807}` + "\n", wantErr: "skip the raw result of 9223372036854775807 bytes over MaxRawSize 1048576: unexpected EOF", is: io.ErrUnexpectedEOF},
		{name: "raw length negative", ser: shared.JSON{}, in: `{"v":1,"k":2,"b":2,"n":-1}` + "\n", wantErr: "malformed message: negative raw length -1", is: ErrMalformed},
		{name: "custom serializer header", ser: hexJSON, in: "zz\x00\x00", wantErr: "malformed message: header: encoding/hex: invalid byte: U+007A 'z'", is: ErrMalformed},
		{name: "msgpack header", ser: shared.MsgPack{}, in: "\xc1\x00\x00", is: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCodec(tt.ser, 1<<20, or(tt.maxRaw, 1<<20), nil)
			r := frame.NewReader(bufio.NewReader(strings.NewReader(tt.in)), c.Terminator(), c.MaxFrame())
			_, _, err := c.Read(r)
			if tt.wantErr != "" && errText(err) != tt.wantErr {
				t.Errorf("Read(%q) = %q, want %q", tt.in, errText(err), tt.wantErr)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("Read(%q) = %v, want errors.Is %v", tt.in, err, tt.is)
			}
		})
	}
}

func TestCodecDecodeBody(t *testing.T) {
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	t.Run("raw into *[]byte", func(t *testing.T) {
		var b []byte
		err := c.DecodeBody(&Header{Kind: shared.KindResult, Type: "blob", Body: BodyRaw, RawLen: 3}, []byte("a\nb"), &b)
		if err != nil || string(b) != "a\nb" {
			t.Errorf("DecodeBody(raw) = %q, %v, want \"a\\nb\", nil", b, err)
		}
	})
	t.Run("raw into a struct", func(t *testing.T) {
		var v echoResult
		err := c.DecodeBody(&Header{Kind: shared.KindResult, Type: "echo", Body: BodyRaw}, []byte("x"), &v)
		const want = `malformed message: raw bytes for result "echo", which does not take []byte`
		if errText(err) != want || !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeBody(raw into *echoResult) = %q, want %q wrapping ErrMalformed", errText(err), want)
		}
	})
	t.Run("frame of the wrong type", func(t *testing.T) {
		var v echoResult
		err := c.DecodeBody(&Header{Kind: shared.KindResult, Type: "echo", Body: BodyFrame}, []byte(`{"text":5}`), &v)
		const want = `decode result "echo" payload with json: json: cannot unmarshal number into Go struct field echoResult.text of type string`
		if errText(err) != want {
			t.Errorf("DecodeBody(wrong type) = %q, want %q", errText(err), want)
		}
	})
	t.Run("no body leaves the value alone", func(t *testing.T) {
		v := echoResult{Text: "unchanged"}
		if err := c.DecodeBody(&Header{Kind: shared.KindResult, Body: BodyNone}, nil, &v); err != nil || v.Text != "unchanged" {
			t.Errorf("DecodeBody(no body) = %+v, %v, want the value unchanged and nil", v, err)
		}
	})
	t.Run("frame into *[]byte is base64 JSON", func(t *testing.T) {
		var b []byte
		err := c.DecodeBody(&Header{Kind: shared.KindResult, Body: BodyFrame}, []byte(`"aGk="`), &b)
		if err != nil || string(b) != "hi" {
			t.Errorf("DecodeBody(base64 frame) = %q, %v, want \"hi\", nil", b, err)
		}
	})
}

func TestCodecInternsNames(t *testing.T) {
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, []string{"echo"})
	var h Header
	if err := c.DecodeHeader([]byte(`{"v":1,"k":1,"t":"echo","id":"1"}`), &h); err != nil {
		t.Fatalf("DecodeHeader = %v", err)
	}
	if h.Type != "echo" {
		t.Errorf("DecodeHeader type = %q, want \"echo\"", h.Type)
	}
	if got := c.intern([]byte("echo")); got != "echo" {
		t.Errorf("intern(echo) = %q", got)
	}
	if got := c.intern([]byte("other")); got != "other" {
		t.Errorf("intern(other) = %q", got)
	}
}

func TestCodecAccessors(t *testing.T) {
	c := NewCodec(hexJSON, 123, 456, nil)
	if c.Serializer() != hexJSON || string(c.Terminator()) != "\x00\x00" || c.MaxFrame() != 123 {
		t.Errorf("NewCodec(hexjson, 123, 456) = serializer %v, terminator %q, max %d", c.Serializer().Name(), c.Terminator(), c.MaxFrame())
	}
	if c.leanJSON {
		t.Errorf("NewCodec(hexjson) uses the lean JSON header codec")
	}
	if !NewCodec(shared.JSON{}, 1, 1, nil).leanJSON {
		t.Errorf("NewCodec(shared.JSON{}) does not use the lean JSON header codec")
	}
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCodecEncodePeerLimits(t *testing.T) {
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil).WithPeerLimits("worker", 40, 3)
	tests := []struct {
		name    string
		h       Header
		payload any
		want    string
	}{
		{
			name: "payload over the worker's frame limit", h: Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: "1"},
			payload: echoRequest{Text: strings.Repeat("x", 40)},
			want:    `encode request "echo": request of 57 bytes exceeds the worker's MaxFrameSize 40`,
		},
		{
			name: "raw over the worker's raw limit", h: Header{Version: 1, Kind: shared.KindRequest, Type: "blob", ID: "1"},
			payload: []byte("abcd"),
			want:    `encode request "blob": raw request of 4 bytes exceeds the worker's MaxRawSize 3`,
		},
		{
			name: "header over the worker's frame limit", h: Header{Version: 1, Kind: shared.KindRequest, Type: strings.Repeat("t", 40), ID: "1"},
			want: `encode request "` + strings.Repeat("t", 40) + `": request header of 69 bytes exceeds the worker's MaxFrameSize 40`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			out, _, err := c.Encode(nil, &h, tt.payload)
			var tl *shared.FrameTooLargeError
			if errText(err) != tt.want || !errors.As(err, &tl) || !errors.Is(err, shared.ErrFrameTooLarge) || len(out) != 0 {
				t.Errorf("Encode(%+v) = %d bytes, %q, want nothing and %q matching ErrFrameTooLarge", tt.h, len(out), errText(err), tt.want)
			}
		})
	}
	// Within the worker's limits, the message goes out.
	h := Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: "1"}
	if _, _, err := c.Encode(nil, &h, echoRequest{Text: "ok"}); err != nil {
		t.Errorf("Encode of a small request = %v, want nil", err)
	}
	// A peer limit larger than this side's does not raise it.
	if _, _, err := NewCodec(shared.JSON{}, 10, 1<<20, nil).WithPeerLimits("worker", 1<<20, 0).Encode(nil, &h, echoRequest{Text: "too long"}); !strings.HasSuffix(errText(err), ", limit 10") {
		t.Errorf("Encode over this side's own limit = %v, want its own limit 10", err)
	}
}

// TestCodecAllocations: with the JSON serializer, encoding a header into
// a reused buffer allocates nothing and reading one allocates only its
// transaction id; every allocation on the per-call path shows up as fresh
// pages and collector work (test/bench/PROFILE.md, section 2).
func TestCodecAllocations(t *testing.T) {
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, []string{"echo"})
	h := Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: "8c2f7a0e-4c4b-4bd7-9a2c-5d1e3f6a7b8c", Deadline: 1}
	var raw any = []byte("0123456789abcdef0123456789abcdef") // boxed once, as a call's payload is
	dst := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		hc := h
		if _, _, err := c.Encode(dst[:0], &hc, raw); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Encode of a header with a raw payload: %v allocations, want 0", n)
	}

	one, _, err := c.Encode(nil, &Header{Version: 1, Kind: shared.KindResult, Type: "echo", ID: h.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stream := bytes.Repeat(one, 200)
	r := frame.NewReader(bufio.NewReader(bytes.NewReader(stream)), c.Terminator(), c.MaxFrame())
	if n := testing.AllocsPerRun(100, func() {
		if got, _, err := c.Read(r); err != nil || got.ID != h.ID {
			t.Fatalf("Read = %+v, %v", got, err)
		}
	}); n > 1 {
		t.Errorf("Read of a header: %v allocations, want at most 1 (its transaction id)", n)
	}
}
