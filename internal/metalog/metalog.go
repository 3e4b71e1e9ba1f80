// Package metalog is the logger host and worker wrap around a user's logger
// for their own records: it filters by level and survives a logger that
// panics. It is internal: users configure it through host.Config and
// plugin.Config (Logger, LogLevel).
package metalog

import (
	"fmt"
	"io"
	"log"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// New wraps a user's logger for the library's own use. It drops
// records below level before they reach inner, and it protects the library
// from inner: a panic inside inner is recovered, the operation that logged
// goes on, and the first such failure is reported once to report (os.Stderr
// in host and worker); later ones are counted silently.
//
// Loggers derived with Named, With and ResetNamed share the level and the
// once-only report. Safe for concurrent use.
func New(inner hclog.Logger, level hclog.Level, report io.Writer) hclog.Logger {
	m := &metaLogger{inner: inner, shared: &metaShared{report: report}}
	m.shared.level.Store(int32(level))
	return m
}

type metaShared struct {
	level    atomic.Int32
	once     sync.Once
	report   io.Writer
	failures atomic.Int64
}

type metaLogger struct {
	inner  hclog.Logger
	shared *metaShared
}

var _ hclog.Logger = (*metaLogger)(nil)

// protect runs fn, turning a panic into a one-time report.
func (m *metaLogger) protect(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			m.shared.failures.Add(1)
			m.shared.once.Do(func() {
				if m.shared.report != nil {
					fmt.Fprintf(m.shared.report, "isolated-workers: the configured logger panicked (%v); its records are dropped and further failures are not reported\n", r)
				}
			})
		}
	}()
	fn()
}

func (m *metaLogger) enabled(l hclog.Level) bool {
	min := hclog.Level(m.shared.level.Load())
	return min != hclog.Off && l >= min
}

func (m *metaLogger) Log(level hclog.Level, msg string, args ...any) {
	if m.enabled(level) {
		m.protect(func() { m.inner.Log(level, msg, args...) })
	}
}
func (m *metaLogger) Trace(msg string, args ...any) { m.Log(hclog.Trace, msg, args...) }
func (m *metaLogger) Debug(msg string, args ...any) { m.Log(hclog.Debug, msg, args...) }
func (m *metaLogger) Info(msg string, args ...any)  { m.Log(hclog.Info, msg, args...) }
func (m *metaLogger) Warn(msg string, args ...any)  { m.Log(hclog.Warn, msg, args...) }
func (m *metaLogger) Error(msg string, args ...any) { m.Log(hclog.Error, msg, args...) }
func (m *metaLogger) IsTrace() bool                 { return m.enabled(hclog.Trace) }
func (m *metaLogger) IsDebug() bool                 { return m.enabled(hclog.Debug) }
func (m *metaLogger) IsInfo() bool                  { return m.enabled(hclog.Info) }
func (m *metaLogger) IsWarn() bool                  { return m.enabled(hclog.Warn) }
func (m *metaLogger) IsError() bool                 { return m.enabled(hclog.Error) }

func (m *metaLogger) ImpliedArgs() (args []any) {
	m.protect(func() { args = m.inner.ImpliedArgs() })
	return args
}

func (m *metaLogger) Name() (name string) {
	m.protect(func() { name = m.inner.Name() })
	return name
}

func (m *metaLogger) derive(fn func() hclog.Logger) hclog.Logger {
	inner := m.inner
	m.protect(func() { inner = fn() })
	if inner == nil {
		inner = m.inner
	}
	return &metaLogger{inner: inner, shared: m.shared}
}

func (m *metaLogger) With(args ...any) hclog.Logger {
	return m.derive(func() hclog.Logger { return m.inner.With(args...) })
}
func (m *metaLogger) Named(name string) hclog.Logger {
	return m.derive(func() hclog.Logger { return m.inner.Named(name) })
}
func (m *metaLogger) ResetNamed(name string) hclog.Logger {
	return m.derive(func() hclog.Logger { return m.inner.ResetNamed(name) })
}

// SetLevel changes the meta-logger's filter; inner keeps its own level.
func (m *metaLogger) SetLevel(level hclog.Level) { m.shared.level.Store(int32(level)) }

func (m *metaLogger) GetLevel() hclog.Level { return hclog.Level(m.shared.level.Load()) }

func (m *metaLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(m.StandardWriter(opts), "", 0)
}

func (m *metaLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return StandardWriter(m, opts)
}

// StandardWriter returns an io.Writer logging each write as one record of l, at
// opts.ForceLevel or else Info, as hclog's own StandardWriter does.
func StandardWriter(l hclog.Logger, opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return writerFunc(func(p []byte) (int, error) {
		msg := string(p)
		if n := len(msg); n > 0 && msg[n-1] == '\n' {
			msg = msg[:n-1]
		}
		l.Log(level, msg)
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
