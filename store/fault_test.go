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

	accepted := make(chan error, 1)
	go func() {
		for i := 1; i <= 20; i++ {
			if err := s.SaveCall(bigCall(fmt.Sprintf("C-%d", i), 1)); err != nil {
				accepted <- err
				return
			}
		}
		accepted <- nil
	}()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("SaveCall waited on a full database")
	}
	// The buffer holds 20 distinct calls: a 21st is refused, a newer version of a buffered one is not.
	waitFor(t, func() bool { return s.Healthy(ctx) != nil })
	if err := s.SaveCall(bigCall("C-21", 1)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("21st call while full: %v, want ErrQueueFull", err)
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
	if err != nil || len(all) != 21 {
		t.Fatalf("after recovery and restart: %d calls (%v), want 21", len(all), err)
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
