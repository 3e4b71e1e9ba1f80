package host

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
)

// logLine returns a function that logs one line of the worker's stdout or
// stderr into the worker's sub-logger.
func (w *Worker) logLine(stream string, level hclog.Level) func([]byte, bool) {
	return func(line []byte, partial bool) {
		if len(line) == 0 {
			return
		}
		if partial {
			w.wlog.Log(level, string(line), "stream", stream, "partial", true)
			return
		}
		w.wlog.Log(level, string(line), "stream", stream)
	}
}

// readLogs forwards the worker's hclog records (JSON lines) to the worker's
// sub-logger with their level, module and fields.
func (c *conn) readLogs(br *bufio.Reader) {
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			if len(long) > maxLineChunk {
				c.w.logRecord(long)
				long = long[:0]
			}
			continue
		}
		if len(long) > 0 {
			line = append(long, line...)
			long = long[:0]
		}
		if len(line) > 0 {
			c.w.logRecord(line)
		}
		if err != nil {
			return
		}
	}
}

// logRecord logs one record from the worker. A line that is not an hclog
// JSON record is logged as it is.
func (w *Worker) logRecord(line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	var rec map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // integers stay exact: a 64-bit id is not rounded to a float
	if err := dec.Decode(&rec); err != nil || dec.More() {
		w.wlog.Info(string(line))
		return
	}
	level := hclog.LevelFromString(str(rec["@level"]))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	msg := str(rec["@message"])
	logger := w.wlog
	if m := str(rec["@module"]); m != "" {
		logger = logger.Named(m)
	}
	delete(rec, "@level")
	delete(rec, "@message")
	delete(rec, "@module")
	delete(rec, "@caller")
	if ts, ok := rec["@timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil && time.Since(t) > time.Second {
			rec["@worker_time"] = ts // a record replayed after a reconnect keeps its time
		}
	}
	delete(rec, "@timestamp")
	args := make([]any, 0, 2*len(rec))
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		args = append(args, k, rec[k])
	}
	logger.Log(level, msg, args...)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
