package action_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testContext returns a context that ends with the test.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder is a status.Publisher that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []status.Event
}

func (r *recorder) Publish(ev status.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) Events() []status.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]status.Event(nil), r.events...)
}

// ignoreTime drops Event.Time from comparisons; tests check it separately.
var ignoreTime = cmpopts.IgnoreFields(status.Event{}, "Time")

// logBuffer collects JSON log lines from an hclog.Logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// newLogger returns a JSON logger writing to a logBuffer.
func newLogger(t *testing.T) (hclog.Logger, *logBuffer) {
	t.Helper()
	b := &logBuffer{}
	return hclog.New(&hclog.LoggerOptions{Output: b, JSONFormat: true, Level: hclog.Trace}), b
}

// Lines returns the logged lines, decoded.
func (b *logBuffer) Lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
