package host

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// logLine returns a function that logs one line of the worker's stdout or
// stderr into the worker's sub-logger, at level. A whole stderr line that
// is an hclog JSON record (it has an @level or an @message) is logged at
// the record's level, with its message, module and fields.
func (w *Worker) logLine(stream string, level hclog.Level) func([]byte, bool) {
	return func(line []byte, partial bool) {
		if len(line) == 0 {
			return
		}
		if partial {
			w.wlog.Log(level, string(line), "stream", stream, "partial", true)
			return
		}
		if stream == "stderr" && line[0] == '{' {
			// A worker (or a library in it) that logs with hclog's
			// JSONFormat to stderr: log the record at its own level,
			// with its fields, as go-plugin does.
			if r, ok := parseRecord(line); ok && r.hclog {
				r.args = append(r.args, "stream", stream)
				r.log(w.wlog)
				return
			}
		}
		w.wlog.Log(level, string(line), "stream", stream)
	}
}

// readLogs forwards the worker's hclog records (JSON lines) to the worker's
// sub-logger with their level, module and fields. A record longer than
// maxLineChunk is cut there: it is logged once, at its own level, with its
// message truncated and marked (logTruncated); the rest is discarded.
func (w *Worker) readLogs(st io.Reader) {
	br := bufio.NewReaderSize(st, 16<<10)
	var head []byte // the start of a record longer than the reader's buffer
	cut := 0        // bytes of that record beyond maxLineChunk, discarded
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(head) > 0 {
			if err == nil {
				line = line[:len(line)-1] // the newline ends the record; not part of it
			}
			room := max(maxLineChunk-len(head), 0)
			take := min(room, len(line))
			head = append(head, line[:take]...)
			cut += len(line) - take
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if cut > 0 {
				w.logTruncated(head, cut)
			} else {
				w.logRecord(head)
			}
			head, cut = head[:0], 0
		} else if len(line) > 0 {
			w.logRecord(line)
		}
		if err != nil {
			return
		}
	}
}

var (
	levelField   = regexp.MustCompile(`"@level"\s*:\s*"([a-zA-Z]+)"`)
	moduleField  = regexp.MustCompile(`"@module"\s*:\s*"([^"\\]*)"`)
	messageField = regexp.MustCompile(`"@message"\s*:\s*"`)
)

// logTruncated logs the start of a record that was cut after len(head)
// bytes, cut bytes before its end: at the record's level (hclog writes
// @level before @message, so the head has it), with as much of its message
// as the head holds and a marker saying how much is missing.
func (w *Worker) logTruncated(head []byte, cut int) {
	level := hclog.Info
	if m := levelField.FindSubmatch(head); m != nil {
		if l := hclog.LevelFromString(string(m[1])); l != hclog.NoLevel {
			level = l
		}
	}
	logger := w.wlog
	msg := head
	if loc := messageField.FindIndex(head); loc != nil {
		if m := moduleField.FindSubmatch(head[:loc[0]]); m != nil && len(m[1]) > 0 {
			logger = logger.Named(string(m[1]))
		}
		msg = head[loc[1]:]
		if s, ok := jsonStringPrefix(msg); ok {
			msg = s
		}
	}
	logger.Log(level, fmt.Sprintf("%s ... [truncated: %d bytes]", msg, cut), "truncated_bytes", cut)
}

// jsonStringPrefix decodes the JSON string body that starts p (after its
// opening quote), up to its closing quote or as far as p goes.
func jsonStringPrefix(p []byte) ([]byte, bool) {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			p = p[:i]
			i = len(p)
		}
	}
	// The cut may have split a rune or an escape: drop its pieces.
	for n := 0; n < utf8.UTFMax && len(p) > 0; n++ {
		if r, size := utf8.DecodeLastRune(p); r != utf8.RuneError || size != 1 {
			break
		}
		p = p[:len(p)-1]
	}
	for end := len(p); end >= 0 && end > len(p)-6; end-- {
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, p[:end]...), '"'), &s) == nil {
			return []byte(s), true
		}
	}
	return nil, false
}

// logRecord logs one record from the worker. A line that is not an hclog
// JSON record is logged as it is.
func (w *Worker) logRecord(line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	rec, ok := parseRecord(line)
	if !ok {
		w.wlog.Info(string(line))
		return
	}
	rec.log(w.wlog)
}

// record is one hclog JSON record a worker wrote, on its log stream or its
// stderr.
type record struct {
	level  hclog.Level
	module string
	msg    string
	hclog  bool  // it has an @level or an @message: hclog wrote it
	args   []any // the other fields, sorted by key
}

// parseRecord decodes a line holding one JSON object as an hclog record:
// its @level (Info when missing or unknown), @module, @message, and its
// other fields in key order. @caller is dropped; @timestamp is kept as
// @worker_time when the record is more than a second old (replayed after
// a reconnect). ok is false for anything but one JSON object.
func parseRecord(line []byte) (r record, ok bool) {
	var rec map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // integers stay exact: a 64-bit id is not rounded to a float
	if err := dec.Decode(&rec); err != nil || dec.More() || rec == nil {
		return record{}, false
	}
	_, hasLevel := rec["@level"]
	_, hasMessage := rec["@message"]
	r.hclog = hasLevel || hasMessage
	r.level = hclog.LevelFromString(str(rec["@level"]))
	if r.level == hclog.NoLevel {
		r.level = hclog.Info
	}
	r.msg = str(rec["@message"])
	r.module = str(rec["@module"])
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
	r.args = make([]any, 0, 2*len(rec)+2)
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		r.args = append(r.args, k, rec[k])
	}
	return r, true
}

// log logs the record into logger (the worker's), under its module.
func (r record) log(logger hclog.Logger) {
	if r.module != "" {
		logger = logger.Named(r.module)
	}
	logger.Log(r.level, r.msg, r.args...)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
