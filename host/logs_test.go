package host

import (
	"bytes"
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
