package wire

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// TestProtocolDocExample keeps the worked example of handshake/PROTOCOL.md
// true: the bytes it shows are the bytes the codec writes.
func TestProtocolDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../handshake/PROTOCOL.md")
	if err != nil {
		t.Fatalf("read PROTOCOL.md: %v", err)
	}
	type text struct {
		Text string `json:"text"`
	}
	const id = "0b8e4a52-7c3e-4d0a-9f43-2a6d1c5e9b71"
	c := NewCodec(shared.JSON{}, 1<<20, 1<<20, nil)
	tests := []struct {
		name    string
		h       Header
		payload any
		dump    bool // the example shows a hex dump, not a quoted string
	}{
		{name: "request", dump: true, payload: text{"hi"},
			h: Header{Version: 1, Kind: shared.KindRequest, Type: "echo", ID: id, Deadline: 1767225605000000000,
				Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}},
		{name: "result", dump: true, payload: text{"hi"}, h: Header{Version: 1, Kind: shared.KindResult, Type: "echo", ID: id}},
		{name: "error", h: Header{Version: 1, Kind: shared.KindError, Type: "echo", ID: id},
			payload: &shared.RemoteError{Message: "text is empty", Code: shared.CodeHandler, Type: "*errors.errorString", Class: "permanent"}},
		{name: "cancel", h: Header{Version: 1, Kind: shared.KindCancel, Type: "echo", ID: id}},
		{name: "raw", h: Header{Version: 1, Kind: shared.KindRequest, Type: "upload", ID: "7"}, payload: []byte{0, 1, 2}},
	}
	for _, tt := range tests {
		h := tt.h
		out, _, err := c.Encode(nil, &h, tt.payload)
		if err != nil {
			t.Fatalf("Encode(%s) = %v", tt.name, err)
		}
		want := strings.ReplaceAll(string(out), "\n", `\n`)
		if tt.name == "raw" {
			want = strings.TrimSuffix(want, `\n`)
		}
		if tt.dump {
			want = strings.TrimSuffix(hex.Dump(out), "\n")
		}
		if !strings.Contains(string(doc), want) {
			t.Errorf("PROTOCOL.md does not show the %s as the codec writes it:\n%s", tt.name, want)
		}
	}
}
