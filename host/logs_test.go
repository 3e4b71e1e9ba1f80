package host

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLogRecordForwarding(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []string // substrings of the host's log line
	}{
		{
			name: "level, module and fields",
			line: `{"@level":"warn","@message":"disk low","@module":"store","@timestamp":"2026-01-01T00:00:00Z","free_mb":12}` + "\n",
			want: []string{"[WARN]", "w.store: disk low", "free_mb=12"},
		},
		{
			name: "64-bit integers stay exact",
			line: `{"@level":"info","@message":"job","job_id":9007199254740993}`,
			want: []string{"job_id=9007199254740993"},
		},
		{
			name: "not JSON is logged as it is",
			line: "plain text from the worker\n",
			want: []string{"[INFO]", "w: plain text from the worker"},
		},
		{
			name: "two JSON values on a line are not a record",
			line: `{"@message":"a"} {"@message":"b"}`,
			want: []string{`w: {"@message":"a"} {"@message":"b"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := &Worker{wlog: hclog.New(&hclog.LoggerOptions{Name: "w", Output: &buf, Level: hclog.Trace})}
			w.logRecord([]byte(tt.line))
			for _, s := range tt.want {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("host logged %q, want it to contain %q", buf.String(), s)
				}
			}
		})
	}
}

// TestLongLogRecordKeepsItsLevel: a record longer than maxLineChunk is
// logged once, at its own level, its message truncated and marked; the
// record after it is intact.
func TestLongLogRecordKeepsItsLevel(t *testing.T) {
	msg := "disk failed: " + strings.Repeat("é", 2*maxLineChunk) // multi-byte runes: the cut may split one
	rec := `{"@level":"error","@message":` + strconv.Quote(msg) + `,"@module":"store","@timestamp":"2026-01-01T00:00:00Z","k":"v"}` + "\n"
	next := `{"@level":"warn","@message":"after"}` + "\n"
	var buf bytes.Buffer
	w := &Worker{wlog: hclog.New(&hclog.LoggerOptions{Name: "w", Output: &buf, Level: hclog.Warn})}
	w.readLogs(strings.NewReader(rec + next))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("host logged %d lines, want 2 (the cut record, then the next); first 200 bytes: %.200q", len(lines), buf.String())
	}
	first := lines[0]
	cut := len(rec) - 1 - maxLineChunk // the newline ends the record, not counted
	for _, want := range []string{"[ERROR]", "w: disk failed: éé", fmt.Sprintf("... [truncated: %d bytes]", cut)} {
		if !strings.Contains(first, want) {
			t.Errorf("cut record logged as %.120q...%q, want it to contain %q", first, first[max(len(first)-120, 0):], want)
		}
	}
	if len(first) > maxLineChunk+200 {
		t.Errorf("cut record logged in %d bytes, want at most about maxLineChunk (%d)", len(first), maxLineChunk)
	}
	if !strings.Contains(lines[1], "[WARN]") || !strings.Contains(lines[1], "w: after") {
		t.Errorf("record after the long one logged as %q, want [WARN] w: after", lines[1])
	}
}
