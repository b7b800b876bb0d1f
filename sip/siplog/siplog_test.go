package siplog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func observed(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}

func TestLongValuesAreCut(t *testing.T) {
	long := strings.Repeat("X", 60*1024)
	tests := []struct {
		name    string
		attr    slog.Attr
		key     string
		wantLen int // 0: not cut
	}{
		{"string", slog.String("data", long), "data", len(long)},
		{"bytes", slog.Any("data", []byte(long)), "data", len(long)},
		{"error", slog.Any("error", errors.New("bad header "+long)), "error", len("bad header ") + len(long)},
		{"stringer", slog.Any("addr", stringer(long)), "addr", len(long)},
		{"short string kept", slog.String("data", "INVITE"), "data", 0},
		{"grouped", slog.Group("msg", slog.String("raw", long)), "msg.raw", len(long)},
		{"multibyte cut on a rune boundary", slog.String("data", strings.Repeat("转", 400)), "data", 1200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			zl, logs := observed(zapcore.DebugLevel)
			NewWithOptions(zl, Options{}).LogAttrs(context.Background(), slog.LevelError, "failed to parse", tc.attr)
			if logs.Len() != 1 {
				t.Fatalf("%d records, want 1", logs.Len())
			}
			fields := logs.All()[0].ContextMap()
			got := fmt.Sprint(fields[tc.key])
			if tc.wantLen == 0 {
				if _, cut := fields[tc.key+"_len"]; cut || got != "INVITE" {
					t.Fatalf("short value changed: %v", fields)
				}
				return
			}
			if len(got) > DefaultMaxValueBytes+len("…(truncated)") || !strings.HasSuffix(got, "…(truncated)") {
				t.Fatalf("%s not cut: %d bytes", tc.key, len(got))
			}
			if !validUTF8(got) {
				t.Fatalf("cut value is not valid UTF-8: %q", got[len(got)-20:])
			}
			if n, _ := fields[tc.key+"_len"].(int64); int(n) != tc.wantLen {
				t.Fatalf("%s_len = %v, want %d", tc.key, fields[tc.key+"_len"], tc.wantLen)
			}
		})
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestRepeatedErrorsAreRateLimitedWithSummary(t *testing.T) {
	zl, logs := observed(zapcore.DebugLevel)
	log := NewWithOptions(zl, Options{Burst: 3, Window: 200 * time.Millisecond})
	for i := 0; i < 50; i++ {
		log.Error("failed to parse", "data", fmt.Sprint(i))
		log.Warn("other warning")
		log.Debug("debug chatter") // below warn: never limited
	}
	count := func(msg string) int { return logs.FilterMessage(msg).Len() }
	if got := count("failed to parse"); got != 3 {
		t.Fatalf("failed to parse written %d times, want 3 (burst)", got)
	}
	if got := count("other warning"); got != 3 {
		t.Fatalf("other warning written %d times, want 3: each message has its own budget", got)
	}
	if got := count("debug chatter"); got != 50 {
		t.Fatalf("debug written %d times, want 50", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count("repeated log message suppressed") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	sums := map[string]int64{}
	for _, e := range logs.FilterMessage("repeated log message suppressed").All() {
		m := e.ContextMap()
		sums[m["message"].(string)] = m["suppressed"].(int64)
		if e.Level != zapcore.WarnLevel && e.Level != zapcore.ErrorLevel {
			t.Errorf("summary at %s", e.Level)
		}
	}
	if sums["failed to parse"] != 47 || sums["other warning"] != 47 {
		t.Fatalf("summaries %v, want 47 suppressed each", sums)
	}
	// After the window the message is written again.
	log.Error("failed to parse", "data", "again")
	if got := count("failed to parse"); got != 4 {
		t.Fatalf("after the window: %d records, want 4", got)
	}
}

func TestDistinctMessagesAreBounded(t *testing.T) {
	zl, _ := observed(zapcore.DebugLevel)
	h := NewWithOptions(zl, Options{Burst: 1, Window: time.Hour}).Handler().(*zapSlog)
	for i := 0; i < 3*maxTracked; i++ {
		_ = h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelError, fmt.Sprint("msg ", i), 0))
	}
	h.lim.mu.Lock()
	n := len(h.lim.msgs)
	h.lim.mu.Unlock()
	if n > maxTracked+1 {
		t.Fatalf("limiter tracks %d messages, want at most %d", n, maxTracked+1)
	}
}

// A real sipgo UDP server on loopback gets a malformed datagram with a 60 KB
// header line, many times: the log stays short and bounded.
func TestMalformedDatagramsFromTheNetwork(t *testing.T) {
	zl, logs := observed(zapcore.DebugLevel)
	slogger := NewWithOptions(zl, Options{Burst: 2, Window: time.Minute})
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slogger)))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slogger))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeUDP(pc) }()

	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	junk := []byte("INVITE sip:110@127.0.0.1 SIP/2.0\r\nX-Junk" + strings.Repeat("A", 60*1024) + "\r\n\r\n")
	const sent = 10
	for i := 0; i < sent; i++ {
		if _, err := conn.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterLevelExact(zapcore.ErrorLevel).Len() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the other datagrams reach the (limited) logger
	errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	if len(errs) != 2 {
		t.Fatalf("%d error records for %d bad datagrams, want 2 (burst)", len(errs), sent)
	}
	for _, e := range errs {
		total := len(e.Message)
		for k, v := range e.ContextMap() {
			total += len(k) + len(fmt.Sprint(v))
		}
		if total > 4*DefaultMaxValueBytes {
			t.Fatalf("error record is %d bytes for a %d-byte datagram", total, len(junk))
		}
		// sipgo reads at most its UDP buffer (32 KB) of the datagram: data_len is what it logged.
		if n, _ := e.ContextMap()["data_len"].(int64); n < 16*1024 || int(n) > len(junk) {
			t.Fatalf("data_len = %v, want the raw length (16 KB..%d)", e.ContextMap()["data_len"], len(junk))
		}
	}
}

// BenchmarkHandle: the cost of a record written, of one dropped by the limiter,
// and of one whose long value is cut.
func BenchmarkHandle(b *testing.B) {
	long := strings.Repeat("A", 60*1024)
	for _, bc := range []struct {
		name  string
		burst int
		data  string
	}{{"written", 1 << 30, "short"}, {"suppressed", 1, "short"}, {"cut", 1 << 30, long}} {
		b.Run(bc.name, func(b *testing.B) {
			core, _ := observer.New(zapcore.DebugLevel)
			log := NewWithOptions(zap.New(core), Options{Burst: bc.burst, Window: time.Hour})
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				log.Error("failed to parse", "data", bc.data)
			}
		})
	}
}

// TestBenignSipgoWarningIsDebug: sipgo's own bookkeeping warning does not reach an
// operator's warn-level log, a real warning does.
func TestBenignSipgoWarningIsDebug(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	l := New(zap.New(core))
	l.Warn("UDP ref went negative on try close", "id", "x")
	l.Warn("Failed to parse SIP message", "error", "bad")
	if logs.Len() != 1 || logs.All()[0].Message != "Failed to parse SIP message" {
		t.Fatalf("warn-level log = %v, want only the parse failure", logs.All())
	}
}
