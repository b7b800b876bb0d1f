package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"linkctl/callflow"
)

// UnfinishedCalls lists the calls whose newest version has not ended, whether that
// version is in the database or still in the write buffer (here the database file
// is full, so the buffer holds the newer versions).
func TestUnfinishedCallsMergesTheWriteBuffer(t *testing.T) {
	cfg := sqliteCfg(t)
	s := openStore(t, cfg, nil)
	ctx := context.Background()
	for _, rec := range []callflow.CallRecord{
		transferredCall("A", 1, false), // unfinished in the database
		transferredCall("B", 2, true),  // ended
		transferredCall("C", 1, false), // unfinished, its ended version comes below
		transferredCall("D", 3, true),  // ended; a late older version comes below
	} {
		if err := s.SaveCall(rec); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	var pages int
	if err := s.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	pad := func(rec callflow.CallRecord) callflow.CallRecord {
		rec.InboundHeaders["X-Pad"] = strings.Repeat("x", 8000)
		return rec
	}
	for _, rec := range []callflow.CallRecord{pad(transferredCall("C", 2, true)), pad(transferredCall("E", 1, false)), pad(transferredCall("D", 2, false))} {
		if err := s.SaveCall(rec); err != nil {
			t.Fatal(err)
		}
	}
	// The writer cannot write them (file full): they stay in the buffer.
	s.mu.Lock()
	buffered := len(s.pending) + len(s.inflight)
	s.mu.Unlock()
	if buffered == 0 {
		t.Fatal("test setup: nothing left in the write buffer")
	}
	got, err := s.UnfinishedCalls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, fmt.Sprintf("%s v%d", r.ID, r.Version))
	}
	if strings.Join(ids, ",") != "A v1,E v1" {
		t.Fatalf("unfinished calls %v, want [A v1 E v1]", ids)
	}
	if _, err := s.db.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if got, err = s.UnfinishedCalls(ctx); err != nil || len(got) != 2 || got[1].ID != "E" {
		t.Fatalf("after the buffer is written: %+v %v", got, err)
	}
}
