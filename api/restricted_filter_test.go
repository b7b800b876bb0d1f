package api

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// flaggedTransfer is a 110 call flagged 涉密 by the 110 peer and transferred to
// 12345 as a street-light matter: restricted only through its flag.
func flaggedTransfer() callflow.CallRecord {
	rec := sampleCall("flagged", t0)
	rec.FirstPlatform, rec.OwnerPlatform = callflow.Platform110, callflow.Platform12345
	rec.Category = "公共设施类/路灯故障"
	rec.InboundHeaders = map[string]string{store.FlagsHeader: "涉密"}
	rec.Transfers[0].Direction = callflow.Dir110To12345
	rec.Transfers[0].Category = rec.Category
	return rec
}

func openRealStore(t *testing.T) *store.Store {
	t.Helper()
	cfg := config.Default().Store
	cfg.Path = filepath.Join(t.TempDir(), "linkctl.db")
	st, err := store.Open(t.Context(), cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// D4: a filter on a field hidden from a 12345 reader never matches a restricted
// record, so the hidden category, agent and 110 ticket cannot be guessed; the
// fields the policy shares (config store defaults) still filter as usual.
func TestRestrictedRecordFiltersFor12345(t *testing.T) {
	st := openRealStore(t)
	for _, rec := range []callflow.CallRecord{flaggedTransfer(), sampleCall("open", t0.Add(time.Minute))} {
		if err := st.SaveCall(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, Options{Store: st, Redact: st.RedactFor})
	ids := func(a answer) []string {
		var out []string
		calls, _ := a.body["calls"].([]any)
		for _, c := range calls {
			out = append(out, c.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		name, query   string
		sup, sup12345 string // ids listed, comma-joined
	}{
		{"no filter", "", "open,flagged", "open,flagged"},
		{"hidden category", "?category=公共设施类/路灯故障", "flagged", ""},
		{"hidden 大类", "?category=公共设施类", "flagged", ""},
		{"other category", "?category=社会治安类", "open", "open"},
		{"hidden agent", "?agent=a110-2001", "open,flagged", "open"},
		{"hidden ticket", "?ticket=JQ-flagged", "flagged", ""},
		{"shared ticket_12345", "?ticket=GD-flagged", "flagged", "flagged"},
		{"shared outcome", "?outcome=transferred", "open,flagged", "open,flagged"},
		{"shared first_platform", "?platform=110", "open,flagged", "open,flagged"},
		{"date (started is shared)", "?from=2026-12-03", "open,flagged", "open,flagged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []struct{ tok, want string }{{tokSup, tc.sup}, {tokSup12345, tc.sup12345}} {
				a := call(t, srv, "GET", "/v1/calls"+tc.query, r.tok, "")
				if a.status != 200 {
					t.Fatalf("%s: %d %s", r.tok, a.status, a.raw)
				}
				if got := strings.Join(ids(a), ","); got != r.want {
					t.Fatalf("%s %s: listed %q, want %q", r.tok, tc.query, got, r.want)
				}
				if r.tok == tokSup12345 && strings.Contains(string(a.raw), "路灯") {
					t.Fatalf("hidden category leaked: %s", a.raw)
				}
			}
		})
	}
}

// D4: a 12345 reader's daily figures count a restricted call only in the totals.
func TestRestrictedCallInDailyStatsFor12345(t *testing.T) {
	st := openRealStore(t)
	for _, rec := range []callflow.CallRecord{flaggedTransfer(), sampleCall("open", t0.Add(time.Minute))} {
		if err := st.SaveCall(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, Options{Store: st, Redact: st.RedactFor})
	day := t0.Format(time.DateOnly)

	full := call(t, srv, "GET", "/v1/stats/daily?date="+day, tokSup, "")
	if full.status != 200 || full.body["calls"] != float64(2) || full.body["transfers"] != float64(2) {
		t.Fatalf("full stats: %d %s", full.status, full.raw)
	}
	if cats := full.body["by_category"].(map[string]any); cats["公共设施类/路灯故障"] != float64(1) {
		t.Fatalf("full reader lost the category: %s", full.raw)
	}
	if _, ok := full.body["restricted_transfers"]; ok {
		t.Fatalf("full reader got restricted_transfers: %s", full.raw)
	}

	a := call(t, srv, "GET", "/v1/stats/daily?date="+day, tokSup12345, "")
	if a.status != 200 || a.body["calls"] != float64(2) || a.body["transfers"] != float64(2) || a.body["restricted_transfers"] != float64(1) {
		t.Fatalf("12345 totals: %d %s", a.status, a.raw)
	}
	if strings.Contains(string(a.raw), "路灯") {
		t.Fatalf("restricted category in 12345 stats: %s", a.raw)
	}
	for key, want := range map[string]map[string]float64{
		"by_category":  {"社会治安类/盗砸抢骗": 1},
		"by_direction": {"12345->110": 1},
		"by_outcome":   {"completed": 1},
	} {
		got := a.body[key].(map[string]any)
		if len(got) != len(want) {
			t.Fatalf("%s = %v, want %v", key, got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("%s[%s] = %v, want %v (%s)", key, k, got[k], n, a.raw)
			}
		}
	}
}
