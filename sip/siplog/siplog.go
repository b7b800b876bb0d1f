// Package siplog routes the log/slog output of sipgo (and anything else that logs
// through slog) into zap, so the SIP stack never prints on its own. sipgo logs
// routine transaction chatter at info: it is demoted to debug here.
package siplog

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapSlog routes sipgo's slog output into our zap logger, so the SIP stack
// never prints on its own.
type zapSlog struct {
	log   *zap.Logger
	attrs []zap.Field
	group string
}

// New returns a *slog.Logger writing to log.
func New(log *zap.Logger) *slog.Logger { return slog.New(&zapSlog{log: log}) }

func (h *zapSlog) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(zapLevel(l))
}

func (h *zapSlog) Handle(_ context.Context, r slog.Record) error {
	fields := make([]zap.Field, 0, len(h.attrs)+r.NumAttrs())
	fields = append(fields, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, h.field(a))
		return true
	})
	if ce := h.log.Check(zapLevel(r.Level), r.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h *zapSlog) WithAttrs(as []slog.Attr) slog.Handler {
	n := &zapSlog{log: h.log, group: h.group, attrs: append([]zap.Field(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, h.field(a))
	}
	return n
}

func (h *zapSlog) WithGroup(name string) slog.Handler {
	n := *h
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}

func (h *zapSlog) field(a slog.Attr) zap.Field {
	key := a.Key
	if h.group != "" {
		key = h.group + "." + key
	}
	return zap.Any(key, a.Value.Resolve().Any())
}

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		// sipgo logs routine transaction noise at info; keep it at debug here.
		return zapcore.DebugLevel
	default:
		return zapcore.DebugLevel
	}
}
