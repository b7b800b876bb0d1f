package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"linkctl/callflow"
)

// bigCall is a record large enough to need new database pages.
func bigCall(id string, v int64) callflow.CallRecord {
	rec := transferredCall(id, v, false)
	rec.InboundHeaders["X-Pad"] = strings.Repeat("x", 8000)
	return rec
}

// TestFullDiskReportedLoudlyCallsGoOn fills the SQLite file to its limit
// (SQLITE_FULL, "database or disk is full", as on a full disk): SaveCall keeps
// accepting without waiting, the failure is logged at error level and
// reported by Healthy, and every record is written once space returns.
func TestFullDiskReportedLoudlyCallsGoOn(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	cfg := sqliteCfg(t)
	cfg.WriteQueue = 20
	s := openStore(t, cfg, zap.New(core))
	ctx := context.Background()
	s.SaveCall(bigCall("C-0", 1))
	flush(t, s)
	if err := s.Healthy(ctx); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	var pages int
	if err := s.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}

	// Calls keep arriving: every SaveCall returns at once, until the buffer of
	// 20 distinct calls is full; then a new call is refused, a newer version of
	// a buffered call is not.
	var refused error
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 200; i++ {
			if err := s.SaveCall(bigCall(fmt.Sprintf("C-%d", i), 1)); err != nil {
				refused = err
				return
			}
			n++
			if i == 20 { // let the writer meet the full disk
				for deadline := time.Now().Add(5 * time.Second); s.Healthy(ctx) == nil && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SaveCall waited on a full database")
	}
	if !errors.Is(refused, ErrQueueFull) || n < 20 {
		t.Fatalf("after %d calls: %v, want ErrQueueFull once the buffer of 20 is full", n, refused)
	}
	if err := s.SaveCall(bigCall("C-5", 2)); err != nil {
		t.Fatalf("newer version of a buffered call: %v", err)
	}
	herr := s.Healthy(ctx)
	if !errors.Is(herr, ErrUnhealthy) || !strings.Contains(herr.Error(), "full") {
		t.Fatalf("Healthy = %v, want ErrUnhealthy naming the full disk", herr)
	}
	if logs.FilterMessageSnippet("STORE WRITE FAILING").Len() == 0 {
		t.Fatalf("no error log for the failing writes; got %v", logs.All())
	}
	if got, err := s.GetCall(ctx, "C-5"); err != nil || got.Version != 2 {
		t.Fatalf("buffered record not readable: v%d %v", got.Version, err)
	}

	// Space returns: everything buffered is written, health recovers.
	if _, err := s.db.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if err := s.Healthy(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	s.Close()
	s2 := openStore(t, cfg, nil)
	defer s2.Close()
	all, err := s2.ListCalls(ctx, CallFilter{Limit: 100})
	if err != nil || len(all) != n+1 {
		t.Fatalf("after recovery and restart: %d calls (%v), want %d", len(all), err, n+1)
	}
	if got, _ := s2.GetCall(ctx, "C-5"); got.Version != 2 {
		t.Fatalf("C-5 v%d, want v2", got.Version)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
