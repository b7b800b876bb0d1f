package siplog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults of New: attribute values longer than MaxValueBytes are cut, and each
// warn/error message is written at most Burst times per Window.
const (
	DefaultMaxValueBytes = 512
	DefaultBurst         = 5
	DefaultWindow        = time.Second
)

// Options bound what outside input can do to the logs.
type Options struct {
	// MaxValueBytes cuts longer string, []byte and error attribute values (0 = DefaultMaxValueBytes).
	MaxValueBytes int
	// Burst is how many records with the same message are written per Window at
	// warn level and above (0 = DefaultBurst). Further ones are counted and
	// reported in one summary record when the window ends.
	Burst int
	// Window is the rate-limit period (0 = DefaultWindow).
	Window time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	return o
}

// zapSlog routes sipgo's slog output into our zap logger, so the SIP stack
// never prints on its own.
type zapSlog struct {
	log   *zap.Logger
	attrs []zap.Field
	group string
	max   int
	lim   *limiter // shared by every handler derived from one New
}

// New returns a *slog.Logger writing to log with the default bounds.
func New(log *zap.Logger) *slog.Logger { return NewWithOptions(log, Options{}) }

// NewWithOptions returns a *slog.Logger writing to log, with long values cut and
// repeated warn/error messages rate-limited as o says.
func NewWithOptions(log *zap.Logger, o Options) *slog.Logger {
	o = o.withDefaults()
	return slog.New(&zapSlog{log: log, max: o.MaxValueBytes, lim: newLimiter(o.Burst, o.Window)})
}

func (h *zapSlog) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(zapLevel(l))
}

func (h *zapSlog) Handle(_ context.Context, r slog.Record) error {
	lvl := zapLevel(r.Level)
	if lvl >= zapcore.WarnLevel && benign(r.Message) {
		lvl = zapcore.DebugLevel
	}
	ce := h.log.Check(lvl, truncate(r.Message, h.max))
	if ce == nil {
		return nil
	}
	if lvl >= zapcore.WarnLevel && !h.lim.allow(r.Message, func(n int) { h.summary(lvl, r.Message, n) }) {
		return nil
	}
	fields := make([]zap.Field, 0, len(h.attrs)+r.NumAttrs())
	fields = append(fields, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, h.fields(a)...)
		return true
	})
	ce.Write(fields...)
	return nil
}

// summary reports how many records of msg the limiter dropped in one window.
func (h *zapSlog) summary(lvl zapcore.Level, msg string, n int) {
	if ce := h.log.Check(lvl, "repeated log message suppressed"); ce != nil {
		ce.Write(zap.String("message", truncate(msg, h.max)), zap.Int("suppressed", n))
	}
}

func (h *zapSlog) WithAttrs(as []slog.Attr) slog.Handler {
	n := &zapSlog{log: h.log, group: h.group, max: h.max, lim: h.lim, attrs: append([]zap.Field(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, h.fields(a)...)
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

// fields turns one attribute into zap fields; a value cut to h.max bytes gets a
// second field KEY_len with its original length.
func (h *zapSlog) fields(a slog.Attr) []zap.Field {
	key := a.Key
	if h.group != "" {
		key = h.group + "." + key
	}
	v := a.Value.Resolve()
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindGroup:
		var out []zap.Field
		sub := &zapSlog{group: key, max: h.max}
		for _, ga := range v.Group() {
			out = append(out, sub.fields(ga)...)
		}
		return out
	case slog.KindAny:
		switch x := v.Any().(type) {
		case []byte:
			s = string(x)
		case error:
			if msg := x.Error(); len(msg) > h.max {
				return []zap.Field{zap.String(key, truncate(msg, h.max)), zap.Int(key+"_len", len(msg))}
			}
			return []zap.Field{zap.Any(key, x)}
		case fmt.Stringer:
			s = x.String()
		default:
			return []zap.Field{zap.Any(key, x)}
		}
	default:
		return []zap.Field{zap.Any(key, v.Any())}
	}
	if len(s) > h.max {
		return []zap.Field{zap.String(key, truncate(s, h.max)), zap.Int(key+"_len", len(s))}
	}
	return []zap.Field{zap.String(key, s)}
}

// truncate cuts s to at most max bytes on a rune boundary and marks the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}

// benignWarnings are sipgo warnings about its own bookkeeping, not about the network or
// a call (e.g. a UDP connection reference count when several local sockets close at
// once): they are logged at debug so that operators only see warnings that need them.
var benignWarnings = []string{"ref went negative"}

func benign(msg string) bool {
	for _, b := range benignWarnings {
		if strings.Contains(msg, b) {
			return true
		}
	}
	return false
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

// maxTracked bounds the limiter's memory when messages are not constant strings.
const maxTracked = 1024

// limiter lets through at most burst records per message per window; the rest
// are counted and reported once when the window ends.
type limiter struct {
	burst  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	msgs map[string]*msgWindow
}

type msgWindow struct {
	start      time.Time
	n          int // records seen in this window
	suppressed int
	flush      *time.Timer // set while a summary is pending
}

func newLimiter(burst int, window time.Duration) *limiter {
	return &limiter{burst: burst, window: window, now: time.Now, msgs: map[string]*msgWindow{}}
}

// allow reports whether a record with msg may be written now. On the first
// suppression in a window it schedules report(count) for the window's end.
func (l *limiter) allow(msg string, report func(n int)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.msgs[msg]
	if w == nil {
		if len(l.msgs) >= maxTracked {
			l.evict(now)
		}
		if len(l.msgs) >= maxTracked {
			msg = "(other messages)" // one shared bucket once the table is full
			if w = l.msgs[msg]; w == nil {
				w = &msgWindow{start: now}
				l.msgs[msg] = w
			}
		} else {
			w = &msgWindow{start: now}
			l.msgs[msg] = w
		}
	}
	if now.Sub(w.start) >= l.window && w.flush == nil {
		w.start, w.n = now, 0
	}
	w.n++
	if w.n <= l.burst {
		return true
	}
	w.suppressed++
	if w.flush == nil {
		wait := l.window - now.Sub(w.start)
		if wait < 0 {
			wait = 0
		}
		w.flush = time.AfterFunc(wait, func() {
			l.mu.Lock()
			n := w.suppressed
			w.suppressed, w.flush = 0, nil
			w.start, w.n = l.now(), 0
			l.mu.Unlock()
			if n > 0 {
				report(n)
			}
		})
	}
	return false
}

// evict drops windows that are over and have no pending summary.
func (l *limiter) evict(now time.Time) {
	for k, w := range l.msgs {
		if w.flush == nil && now.Sub(w.start) >= l.window {
			delete(l.msgs, k)
		}
	}
}
