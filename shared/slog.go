package shared

import (
	"context"
	"io"
	"log"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/internal/metalog"
)

// FromSlog adapts a *slog.Logger to the hclog.Logger that host and worker
// configs take, so records go wherever the application's slog handler sends
// them. A zap logger plugs in the same way through zap's slog handler
// (go.uber.org/zap/exp/zapslog):
//
//	cfg.Logger = shared.FromSlog(slog.New(zapslog.NewHandler(zapLogger.Core())))
//
// hclog's Trace maps to slog.LevelDebug-4; Named adds to a "logger" attribute.
func FromSlog(l *slog.Logger) hclog.Logger {
	s := &slogLogger{l: l, base: l, level: new(atomic.Int32)}
	s.level.Store(int32(hclog.Trace))
	return s
}

type slogLogger struct {
	l     *slog.Logger
	base  *slog.Logger // l without the "logger" name attribute
	name  string
	args  []any
	level *atomic.Int32
}

var _ hclog.Logger = (*slogLogger)(nil)

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (s *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level < hclog.Level(s.level.Load()) {
		return
	}
	s.l.Log(context.Background(), slogLevel(level), msg, args...)
}
func (s *slogLogger) Trace(msg string, args ...any) { s.Log(hclog.Trace, msg, args...) }
func (s *slogLogger) Debug(msg string, args ...any) { s.Log(hclog.Debug, msg, args...) }
func (s *slogLogger) Info(msg string, args ...any)  { s.Log(hclog.Info, msg, args...) }
func (s *slogLogger) Warn(msg string, args ...any)  { s.Log(hclog.Warn, msg, args...) }
func (s *slogLogger) Error(msg string, args ...any) { s.Log(hclog.Error, msg, args...) }
func (s *slogLogger) enabled(l hclog.Level) bool {
	return l >= hclog.Level(s.level.Load()) && s.l.Enabled(context.Background(), slogLevel(l))
}
func (s *slogLogger) IsTrace() bool          { return s.enabled(hclog.Trace) }
func (s *slogLogger) IsDebug() bool          { return s.enabled(hclog.Debug) }
func (s *slogLogger) IsInfo() bool           { return s.enabled(hclog.Info) }
func (s *slogLogger) IsWarn() bool           { return s.enabled(hclog.Warn) }
func (s *slogLogger) IsError() bool          { return s.enabled(hclog.Error) }
func (s *slogLogger) ImpliedArgs() []any     { return s.args }
func (s *slogLogger) Name() string           { return s.name }
func (s *slogLogger) GetLevel() hclog.Level  { return hclog.Level(s.level.Load()) }
func (s *slogLogger) SetLevel(l hclog.Level) { s.level.Store(int32(l)) }

func (s *slogLogger) With(args ...any) hclog.Logger {
	return &slogLogger{l: s.l.With(args...), base: s.base.With(args...), name: s.name,
		args: append(append([]any(nil), s.args...), args...), level: s.level}
}

func (s *slogLogger) Named(name string) hclog.Logger {
	if s.name != "" {
		name = s.name + "." + name
	}
	return s.ResetNamed(name)
}

func (s *slogLogger) ResetNamed(name string) hclog.Logger {
	return &slogLogger{l: s.base.With("logger", name), base: s.base, name: name, args: s.args, level: s.level}
}

func (s *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(s.StandardWriter(opts), "", 0)
}

func (s *slogLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return metalog.StandardWriter(s, opts)
}
