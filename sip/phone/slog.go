package phone

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler routes sipgo's slog records into the phone's zap logger, so the SIP
// stack never prints on its own.
type zapHandler struct {
	log *zap.Logger
}

func newSlog(l *zap.Logger) *slog.Logger { return slog.New(zapHandler{log: l}) }

func level(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		// sipgo logs routine transaction chatter at info: keep it at debug
		return zapcore.DebugLevel
	}
	return zapcore.DebugLevel
}

func (h zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(level(l))
}

func (h zapHandler) Handle(_ context.Context, r slog.Record) error {
	if ce := h.log.Check(level(r.Level), r.Message); ce != nil {
		fields := make([]zap.Field, 0, r.NumAttrs())
		r.Attrs(func(a slog.Attr) bool {
			fields = append(fields, zap.Any(a.Key, a.Value.Any()))
			return true
		})
		ce.Write(fields...)
	}
	return nil
}

func (h zapHandler) WithAttrs(as []slog.Attr) slog.Handler {
	fields := make([]zap.Field, 0, len(as))
	for _, a := range as {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
	}
	return zapHandler{log: h.log.With(fields...)}
}

func (h zapHandler) WithGroup(name string) slog.Handler {
	return zapHandler{log: h.log.Named(name)}
}
