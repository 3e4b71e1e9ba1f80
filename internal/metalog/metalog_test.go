package metalog_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/internal/metalog"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newInner returns an hclog logger at Trace writing plain lines to a buffer.
func newInner(t *testing.T) (hclog.Logger, *syncBuffer) {
	t.Helper()
	var buf syncBuffer
	l := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &buf, DisableTime: true})
	return l, &buf
}

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func logAll(l hclog.Logger) {
	l.Trace("t")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
}

func TestMetaLoggerLevels(t *testing.T) {
	all := []string{"[TRACE] t", "[DEBUG] d", "[INFO]  i", "[WARN]  w", "[ERROR] e"}
	tests := []struct {
		level hclog.Level
		want  []string
	}{
		{hclog.Trace, all},
		{hclog.Debug, all[1:]},
		{hclog.Info, all[2:]},
		{hclog.Warn, all[3:]},
		{hclog.Error, all[4:]},
		{hclog.Off, nil},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			inner, buf := newInner(t)
			l := metalog.New(inner, tt.level, nil)
			logAll(l)
			if diff := cmp.Diff(tt.want, lines(buf.String())); diff != "" {
				t.Errorf("records at level %v (-want +got):\n%s", tt.level, diff)
			}
			gotEnabled := []bool{l.IsTrace(), l.IsDebug(), l.IsInfo(), l.IsWarn(), l.IsError()}
			var wantEnabled []bool
			for _, lv := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
				wantEnabled = append(wantEnabled, tt.level != hclog.Off && lv >= tt.level)
			}
			if diff := cmp.Diff(wantEnabled, gotEnabled); diff != "" {
				t.Errorf("Is{Trace,Debug,Info,Warn,Error}() at level %v (-want +got):\n%s", tt.level, diff)
			}
			if got := l.GetLevel(); got != tt.level {
				t.Errorf("GetLevel() = %v, want %v", got, tt.level)
			}
		})
	}
}

func TestMetaLoggerSetLevelShared(t *testing.T) {
	inner, buf := newInner(t)
	root := metalog.New(inner, hclog.Error, nil)
	child := root.Named("child").With("k", "v")

	child.Info("dropped")
	root.SetLevel(hclog.Info)
	child.Info("kept")
	child.SetLevel(hclog.Off)
	root.Error("dropped too")

	want := []string{"[INFO]  child: kept: k=v"}
	if diff := cmp.Diff(want, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if got := root.GetLevel(); got != hclog.Off {
		t.Errorf("root.GetLevel() after child.SetLevel(Off) = %v, want Off", got)
	}
}

func TestMetaLoggerDerived(t *testing.T) {
	inner, buf := newInner(t)
	l := metalog.New(inner, hclog.Trace, nil)
	named := l.Named("a").Named("b")
	if got := named.Name(); got != "a.b" {
		t.Errorf("Named(a).Named(b).Name() = %q, want %q", got, "a.b")
	}
	reset := named.ResetNamed("c")
	if got := reset.Name(); got != "c" {
		t.Errorf("ResetNamed(c).Name() = %q, want %q", got, "c")
	}
	with := l.With("x", 1)
	if diff := cmp.Diff([]any{"x", 1}, with.ImpliedArgs()); diff != "" {
		t.Errorf("With(x, 1).ImpliedArgs() (-want +got):\n%s", diff)
	}
	named.Warn("hello", "n", 2)
	reset.Log(hclog.Error, "bye")
	want := []string{"[WARN]  a.b: hello: n=2", "[ERROR] c: bye"}
	if diff := cmp.Diff(want, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// panicLogger is a deliberately broken hclog.Logger: every record, and
// every derivation, panics.
type panicLogger struct{ hclog.Logger }

func (panicLogger) Log(hclog.Level, string, ...any) { panic("logger exploded") }
func (panicLogger) Named(string) hclog.Logger       { panic("named exploded") }
func (panicLogger) With(...any) hclog.Logger        { panic("with exploded") }
func (panicLogger) Name() string                    { panic("name exploded") }

const panicReport = "isolated-workers: the configured logger panicked (logger exploded); its records are dropped and further failures are not reported\n"

func TestMetaLoggerPanickingLogger(t *testing.T) {
	var report syncBuffer
	l := metalog.New(panicLogger{hclog.NewNullLogger()}, hclog.Trace, &report)

	l.Info("first")                // panics inside, reported
	l.Error("second", "k", "v")    // panics, not reported again
	child := l.Named("child")      // inner Named panics: child keeps the old inner
	child.With("k", "v").Warn("x") // still panics, still not reported again
	if got := child.Name(); got != "" {
		t.Errorf("Name() of a panicking logger = %q, want \"\"", got)
	}
	if got := report.String(); got != panicReport {
		t.Errorf("report = %q, want exactly one line %q", got, panicReport)
	}
}

func TestMetaLoggerPanickingLoggerDerivedFirst(t *testing.T) {
	// A failure on a derived logger is the one reported; the parent's later
	// failure is not reported again.
	var report syncBuffer
	root := metalog.New(panicLogger{hclog.NewNullLogger()}, hclog.Info, &report)
	derived := root.With("k", "v")
	derived.Info("one")
	root.Info("two")
	root.Debug("below the level: never reaches the logger")
	if got := strings.Count(report.String(), "panicked"); got != 1 {
		t.Errorf("report has %d failure lines, want 1:\n%s", got, report.String())
	}
}

func TestMetaLoggerPanickingLoggerConcurrent(t *testing.T) {
	var report syncBuffer
	l := metalog.New(panicLogger{hclog.NewNullLogger()}, hclog.Trace, &report)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 100 {
				l.Info("record", "goroutine", i)
			}
		})
	}
	wg.Wait()
	if got := report.String(); got != panicReport {
		t.Errorf("report = %q, want exactly %q", got, panicReport)
	}
}

func TestMetaLoggerPanicNilReport(t *testing.T) {
	l := metalog.New(panicLogger{hclog.NewNullLogger()}, hclog.Trace, nil)
	l.Info("must not panic with a nil report writer")
}

func TestMetaLoggerStandardWriter(t *testing.T) {
	tests := []struct {
		name  string
		level hclog.Level
		opts  *hclog.StandardLoggerOptions
		write string
		want  []string
	}{
		{"default info", hclog.Trace, nil, "from stdlib\n", []string{"[INFO]  from stdlib"}},
		{"no trailing newline", hclog.Trace, nil, "bare", []string{"[INFO]  bare"}},
		{"forced error", hclog.Trace, &hclog.StandardLoggerOptions{ForceLevel: hclog.Error}, "bad\n", []string{"[ERROR] bad"}},
		{"filtered", hclog.Warn, nil, "info is dropped\n", nil},
		{"forced level passes filter", hclog.Warn, &hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}, "kept\n", []string{"[WARN]  kept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner, buf := newInner(t)
			w := metalog.New(inner, tt.level, nil).StandardWriter(tt.opts)
			n, err := w.Write([]byte(tt.write))
			if n != len(tt.write) || err != nil {
				t.Errorf("Write(%q) = %d, %v, want %d, nil", tt.write, n, err, len(tt.write))
			}
			if diff := cmp.Diff(tt.want, lines(buf.String())); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetaLoggerStandardLogger(t *testing.T) {
	inner, buf := newInner(t)
	metalog.New(inner, hclog.Info, nil).StandardLogger(nil).Printf("n=%d", 3)
	if diff := cmp.Diff([]string{"[INFO]  n=3"}, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
