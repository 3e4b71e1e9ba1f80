package shared_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/internal/metalog"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// newSlog returns an hclog.Logger over a slog text handler that writes to a
// buffer, without timestamps, enabled down to minLevel.
func newSlog(t *testing.T, minLevel slog.Level) (hclog.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: minLevel,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})
	return shared.FromSlog(slog.New(h)), &buf
}

func TestFromSlogLevels(t *testing.T) {
	l, buf := newSlog(t, slog.LevelDebug-4)
	logAll(l)
	want := []string{
		"level=DEBUG-4 msg=t",
		"level=DEBUG msg=d",
		"level=INFO msg=i",
		"level=WARN msg=w",
		"level=ERROR msg=e",
	}
	if diff := cmp.Diff(want, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestFromSlogLog(t *testing.T) {
	tests := []struct {
		level hclog.Level
		want  string
	}{
		{hclog.Trace, "level=DEBUG-4 msg=m k=v"},
		{hclog.Debug, "level=DEBUG msg=m k=v"},
		{hclog.Info, "level=INFO msg=m k=v"},
		{hclog.Warn, "level=WARN msg=m k=v"},
		{hclog.Error, "level=ERROR msg=m k=v"},
	}
	for _, tt := range tests {
		l, buf := newSlog(t, slog.LevelDebug-4)
		l.Log(tt.level, "m", "k", "v")
		if diff := cmp.Diff([]string{tt.want}, lines(buf.String())); diff != "" {
			t.Errorf("Log(%v) (-want +got):\n%s", tt.level, diff)
		}
	}
}

func TestFromSlogWithAndNamed(t *testing.T) {
	l, buf := newSlog(t, slog.LevelInfo)
	w := l.With("worker", "resize", "pid", 42)
	w.Info("started", "attempt", 1)
	l.Named("host").Warn("slow")
	if diff := cmp.Diff([]any{"worker", "resize", "pid", 42}, w.ImpliedArgs()); diff != "" {
		t.Errorf("ImpliedArgs (-want +got):\n%s", diff)
	}
	if got := w.With("more", true).ImpliedArgs(); len(got) != 6 {
		t.Errorf("With(...).With(more, true).ImpliedArgs() = %v, want 6 values", got)
	}
	if got := l.Named("host").Name(); got != "host" {
		t.Errorf("Named(host).Name() = %q, want %q", got, "host")
	}
	want := []string{
		"level=INFO msg=started worker=resize pid=42 attempt=1",
		"level=WARN msg=slow logger=host",
	}
	if diff := cmp.Diff(want, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// Named twice and ResetNamed must leave one "logger" attribute holding the
// full name, as hclog does.
func TestFromSlogNestedNames(t *testing.T) {
	l, buf := newSlog(t, slog.LevelInfo)
	ab := l.Named("a").Named("b")
	ab.Info("nested")
	ab.ResetNamed("c").Info("reset")
	if got := ab.Name(); got != "a.b" {
		t.Errorf("Named(a).Named(b).Name() = %q, want %q", got, "a.b")
	}
	want := []string{
		"level=INFO msg=nested logger=a.b",
		"level=INFO msg=reset logger=c",
	}
	if diff := cmp.Diff(want, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestFromSlogSetLevel(t *testing.T) {
	l, buf := newSlog(t, slog.LevelDebug-4)
	child := l.Named("child")
	if got := l.GetLevel(); got != hclog.Trace {
		t.Errorf("GetLevel() of a new adapter = %v, want Trace", got)
	}
	l.SetLevel(hclog.Warn)
	logAll(child)
	if got := child.GetLevel(); got != hclog.Warn {
		t.Errorf("child.GetLevel() after SetLevel(Warn) = %v, want Warn", got)
	}
	want := []string{"level=WARN msg=w logger=child", "level=ERROR msg=e logger=child"}
	if diff := cmp.Diff(want, lines(buf.String())); diff != "" {
		t.Errorf("records after SetLevel(Warn) (-want +got):\n%s", diff)
	}
	if child.IsInfo() || !child.IsWarn() || !child.IsError() {
		t.Errorf("IsInfo, IsWarn, IsError = %v, %v, %v; want false, true, true", child.IsInfo(), child.IsWarn(), child.IsError())
	}
}

func TestFromSlogEnabledFollowsHandler(t *testing.T) {
	l, buf := newSlog(t, slog.LevelInfo)
	got := []bool{l.IsTrace(), l.IsDebug(), l.IsInfo(), l.IsWarn(), l.IsError()}
	if diff := cmp.Diff([]bool{false, false, true, true, true}, got); diff != "" {
		t.Errorf("Is{Trace,Debug,Info,Warn,Error}() with an Info handler (-want +got):\n%s", diff)
	}
	l.Debug("dropped by the handler")
	if buf.Len() != 0 {
		t.Errorf("a Debug record reached an Info handler: %q", buf.String())
	}
}

func TestFromSlogStandardWriter(t *testing.T) {
	l, buf := newSlog(t, slog.LevelInfo)
	l.StandardWriter(nil).Write([]byte("plain\n"))
	l.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Write([]byte("forced\n"))
	l.StandardLogger(nil).Print("via log")
	want := []string{"level=INFO msg=plain", "level=ERROR msg=forced", `level=INFO msg="via log"`}
	if diff := cmp.Diff(want, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// Through the meta-logger, as host and worker use it.
func TestFromSlogUnderMetaLogger(t *testing.T) {
	l, buf := newSlog(t, slog.LevelDebug-4)
	m := metalog.New(l, hclog.Info, nil)
	m.Named("w").Debug("dropped")
	m.Named("w").Info("kept", "k", 1)
	if diff := cmp.Diff([]string{"level=INFO msg=kept logger=w k=1"}, lines(buf.String())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func logAll(l hclog.Logger) {
	l.Trace("t")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
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
