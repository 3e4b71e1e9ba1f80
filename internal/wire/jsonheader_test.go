package wire

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// headerCases are headers whose lean encoding must equal encoding/json's.
var headerCases = []Header{
	{},
	{Version: 1, Kind: shared.KindRequest},
	{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: "6f1d3c8e-0000-4000-8000-000000000001", Deadline: 1700000000123456789, Body: BodyFrame},
	{Version: 2, Kind: shared.KindResult, Type: "blob", ID: "x", Body: BodyRaw, RawLen: 1 << 30},
	{Version: -1, Kind: 255, Type: "neg", Deadline: -5, Body: 255, RawLen: -7},
	{Version: math.MaxInt, Kind: shared.KindEvent, Deadline: math.MinInt64, RawLen: math.MinInt},
	{Version: 1, Kind: shared.KindResult, Type: "emit", ID: "7", Body: BodyFrame, Events: 20000},
	{Version: 1, Kind: shared.KindError, Body: BodyRaw, RawLen: 3, Events: math.MaxInt},
	{Version: 1, Kind: shared.KindError, Events: -1},
	{Version: 1, Kind: shared.KindRequest, Headers: map[string]string{"traceparent": "00-ab-cd-01", "b": "2", "a": "1", "": ""}},
	{Version: 1, Kind: shared.KindRequest, Headers: map[string]string{}},
	{Version: 1, Kind: shared.KindRequest, Headers: map[string]string{"only": "one"}},
	{Version: 1, Kind: shared.KindRequest, Type: `quote " backslash \ slash /`, ID: "tab\tnewline\nnul\x00"},
	{Version: 1, Kind: shared.KindRequest, Type: "<html> & friends", ID: "\x7f del"},
	{Version: 1, Kind: shared.KindRequest, Type: "é日本\u2028\u2029", ID: "emoji 😀"},
	{Version: 1, Kind: shared.KindRequest, Type: "bad utf-8 \xff\xfe", ID: "\xc3", Headers: map[string]string{"\xff": "\x80", "k<": "v>"}},
}

func TestAppendJSONHeaderMatchesEncodingJSON(t *testing.T) {
	for _, h := range headerCases {
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", h, err)
		}
		if got := appendJSONHeader(nil, &h); string(got) != string(want) {
			t.Errorf("appendJSONHeader(%+v) = %s, want %s", h, got, want)
		}
		prefix := []byte("prefix")
		if got := appendJSONHeader(prefix, &h); string(got) != "prefix"+string(want) {
			t.Errorf("appendJSONHeader(prefix, %+v) = %s, want prefix%s", h, got, want)
		}
	}
}

func TestJSONHeaderRoundTrip(t *testing.T) {
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	for _, h := range headerCases {
		enc := appendJSONHeader(nil, &h)
		var want Header
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v", enc, err)
		}
		var got Header
		if err := c.DecodeHeader(enc, &got); err != nil {
			t.Errorf("DecodeHeader(%s) = %v", enc, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DecodeHeader(%s) mismatch with encoding/json (-want +got):\n%s", enc, diff)
		}
	}
}

func TestParseJSONHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		fast bool // the fast path accepts it; otherwise encoding/json decodes it
		want Header
	}{
		{name: "compact", in: `{"v":1,"k":1,"t":"echo","id":"7","h":{"a":"1","b":"2"},"dl":-3,"b":2,"n":10}`, fast: true,
			want: Header{Version: 1, Kind: 1, Type: "echo", ID: "7", Headers: map[string]string{"a": "1", "b": "2"}, Deadline: -3, Body: 2, RawLen: 10}},
		{name: "empty object", in: `{}`, fast: true},
		{name: "empty headers", in: `{"v":1,"h":{}}`, fast: true, want: Header{Version: 1, Headers: map[string]string{}}},
		{name: "event count", in: `{"v":1,"k":2,"id":"7","b":1,"ec":3}`, fast: true, want: Header{Version: 1, Kind: 2, ID: "7", Body: 1, Events: 3}},
		{name: "keys in any order", in: `{"n":3,"b":2,"id":"x","k":5,"v":9}`, fast: true, want: Header{Version: 9, Kind: 5, ID: "x", Body: 2, RawLen: 3}},
		{name: "repeated key, last wins", in: `{"v":1,"v":2}`, fast: true, want: Header{Version: 2}},
		{name: "raw UTF-8", in: "{\"t\":\"日本\u2028\",\"id\":\"é\"}", fast: true, want: Header{Type: "日本\u2028", ID: "é"}},
		{name: "minus zero", in: `{"v":-0,"dl":-0}`}, // encoding/json decides: it refuses -0 for k and b
		// encoding/json merges a repeated object into the map it has.
		{name: "repeated headers merge", in: `{"h":{"a":"1","b":"1"},"h":{"b":"2"}}`, fast: true, want: Header{Headers: map[string]string{"a": "1", "b": "2"}}},
		{name: "spaces", in: `{ "v": 1, "k": 1 }`, want: Header{Version: 1, Kind: 1}},
		{name: "trailing newline", in: "{\"v\":1}\n", want: Header{Version: 1}},
		{name: "escapes", in: `{"v":1,"t":"a\"b","id":"\u00e9\n","h":{"\\":"\/"}}`, want: Header{Version: 1, Type: `a"b`, ID: "é\n", Headers: map[string]string{`\`: "/"}}},
		{name: "unknown key", in: `{"v":1,"extra":[1,{"x":null}],"k":2}`, want: Header{Version: 1, Kind: 2}},
		{name: "key in another case", in: `{"V":3,"K":1,"ID":"x"}`, want: Header{Version: 3, Kind: 1, ID: "x"}},
		{name: "null values", in: `{"v":1,"t":null,"h":null}`, want: Header{Version: 1}},
		{name: "exponent", in: `{"dl":1e3}`},
		{name: "invalid UTF-8", in: "{\"t\":\"a\xffb\"}", want: Header{Type: "a\ufffdb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fastH Header
			if got := parseJSONHeader([]byte(tt.in), &fastH, func(b []byte) string { return string(b) }); got != tt.fast {
				t.Errorf("parseJSONHeader(%s) = %v, want %v", tt.in, got, tt.fast)
			}
			var jsonH Header
			jsonErr := json.Unmarshal([]byte(tt.in), &jsonH)
			c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
			var got Header
			err := c.DecodeHeader([]byte(tt.in), &got)
			if tt.name == "exponent" {
				// encoding/json refuses a float for an int; so does the fallback.
				if !errors.Is(err, ErrMalformed) || jsonErr == nil {
					t.Errorf("DecodeHeader(%s) = %v (encoding/json: %v), want ErrMalformed", tt.in, err, jsonErr)
				}
				return
			}
			if err != nil || jsonErr != nil {
				t.Fatalf("DecodeHeader(%s) = %v (encoding/json: %v), want nil", tt.in, err, jsonErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeHeader(%s) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(jsonH, got); diff != "" {
				t.Errorf("DecodeHeader(%s) differs from encoding/json (-json +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseJSONHeaderRefuses(t *testing.T) {
	// Inputs the fast path must hand to encoding/json (which may accept
	// or refuse them); none may be accepted by the fast path.
	for _, in := range []string{
		``, `{`, `}`, `[]`, `null`, `{"v":1`, `{"v":1,}`, `{,}`, `{"v"}`, `{"v":}`, `{"v":01}`, `{"v":-}`, `{"v":1.5}`,
		`{"v":"1"}`, `{"k":256}`, `{"k":-1}`, `{"b":300}`, `{"dl":9223372036854775808}`, `{"n":1e2}`,
		`{"k":-0}`, `{"b":-0}`, `{"n":-0}`, `{"v":-01}`,
		`{"t":1}`, `{"id":true}`, `{"h":[]}`, `{"h":{"a":1}}`, `{"h":{"a":"1",}}`, `{"h":{"a"}}`, `{"h":{"a":"1"}`,
		`{"t":"unterminated}`, "{\"t\":\"ctl\x01\"}", `{"t":"a\u0041"}`, `{"v":1} `, ` {"v":1}`, `{"v":1}{}`, `{"v" :1}`,
	} {
		var h Header
		if parseJSONHeader([]byte(in), &h, func(b []byte) string { return string(b) }) {
			t.Errorf("parseJSONHeader(%q) = true, want false", in)
		}
	}
}

func TestDecodeHeaderResetsAfterFastPathFails(t *testing.T) {
	// The fast path fills fields before it meets something it cannot
	// parse; the fallback must start from a zero Header.
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	var h Header
	if err := c.DecodeHeader([]byte(`{"t":"echo","v":7, "k":1}`), &h); err != nil {
		t.Fatalf("DecodeHeader = %v", err)
	}
	if diff := cmp.Diff(Header{Version: 7, Kind: 1, Type: "echo"}, h); diff != "" {
		t.Errorf("DecodeHeader mismatch (-want +got):\n%s", diff)
	}
}
