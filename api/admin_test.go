package api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"linkctl/config"
	"linkctl/store"
)

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name      string
		checks    []ReadyCheck
		storeErr  error
		want      int
		failing   string
		wantCheck []string
	}{
		{"all up", []ReadyCheck{{"ari", ok}, {"trunk", ok}}, nil, 200, "", []string{"ari", "trunk", "store"}},
		{"ari down", []ReadyCheck{{"ari", func(context.Context) error { return errors.New("websocket closed") }}, {"trunk", ok}}, nil, 503, "ari", nil},
		{"store not writable", []ReadyCheck{{"ari", ok}}, errors.New("disk full"), 503, "store", nil},
		{"slow check times out", []ReadyCheck{{"trunk", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}}, nil, 503, "trunk", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			st.healthErr = tc.storeErr
			srv := testServer(t, Options{Store: st, Ready: tc.checks, ReadyTimeout: 50 * time.Millisecond})
			a := call(t, srv, "GET", "/readyz", "", "")
			if a.status != tc.want {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
			checks := a.body["checks"].(map[string]any)
			if tc.failing != "" && (checks[tc.failing] == "ok" || checks[tc.failing] == nil) {
				t.Fatalf("failing check %s not reported: %s", tc.failing, a.raw)
			}
			for _, name := range tc.wantCheck {
				if checks[name] != "ok" {
					t.Fatalf("check %s = %v", name, checks[name])
				}
			}
		})
	}
	srv := testServer(t, Options{})
	if a := call(t, srv, "GET", "/healthz", "", ""); a.status != 200 || a.body["status"] != "ok" {
		t.Fatalf("healthz: %s", a.raw)
	}
}

func TestReloadHandsMattersToController(t *testing.T) {
	m := mustMatters(t)
	ctl := newFakeController()
	var fail error
	srv := testServer(t, Options{Controller: ctl, Reload: func(context.Context) (*config.Matters, error) { return m, fail }})
	a := call(t, srv, "POST", "/v1/admin/reload", tokAdmin, "")
	rows, _ := a.body["rows"].(map[string]any)
	if a.status != 200 || rows["12345->110"] != float64(62) || ctl.reloaded != m {
		t.Fatalf("reload: %d %s (controller got %p)", a.status, a.raw, ctl.reloaded)
	}
	ctl.reloaded = nil
	fail = config.Problems{{File: "m.tsv", Key: "direction", Line: 7, Msg: "bad"}}
	a = call(t, srv, "POST", "/v1/admin/reload", tokAdmin, "")
	if a.status != 400 || a.errField("code") != "invalid_config" || a.errField("field") != "direction" || ctl.reloaded != nil {
		t.Fatalf("bad reload: %d %s", a.status, a.raw)
	}
}

func TestMattersAndStats(t *testing.T) {
	m := mustMatters(t)
	st := newFakeStore()
	st.stats = store.DailyStats{Calls: 3, ByDirection: map[string]int{"12345->110": 2}, NoAnswerFallbacks: 1}
	srv := testServer(t, Options{Store: st, Matters: func() *config.Matters { return m }})
	a := call(t, srv, "GET", "/v1/matters?direction=110->12345", tokAgent110, "")
	dirs := a.body["directions"].(map[string]any)
	if a.status != 200 || len(dirs) != 1 || len(dirs["110->12345"].([]any)) != 68 {
		t.Fatalf("matters: %d %v", a.status, len(dirs))
	}
	if a = call(t, srv, "GET", "/v1/matters?direction=up", tokAgent110, ""); a.status != 400 || a.errField("field") != "direction" {
		t.Fatalf("bad direction: %s", a.raw)
	}
	a = call(t, srv, "GET", "/v1/stats/daily?date=2026-12-01", tokSup, "")
	if a.status != 200 || a.body["day"] != "2026-12-01" || a.body["calls"] != float64(3) || st.statsDay.Day() != 1 {
		t.Fatalf("stats: %s", a.raw)
	}
	if a = call(t, srv, "GET", "/v1/stats/daily?date=12/01", tokSup, ""); a.status != 400 || a.errField("field") != "date" {
		t.Fatalf("bad date: %s", a.raw)
	}
	srv = testServer(t, Options{Store: st, Now: func() time.Time { return t0 }})
	if a = call(t, srv, "GET", "/v1/stats/daily", tokSup, ""); a.body["day"] != "2026-12-03" {
		t.Fatalf("default date: %s", a.raw)
	}
}

func TestReadyCheckHelpers(t *testing.T) {
	tests := []struct {
		name  string
		check ReadyCheck
		ok    bool
	}{
		{"ari connected", ConnectedCheck("ari", func() bool { return true }), true},
		{"ari down", ConnectedCheck("ari", func() bool { return false }), false},
		{"one trunk of two up", AnyUpCheck("trunks", func() (int, int) { return 1, 2 }), true},
		{"all trunks down", AnyUpCheck("trunks", func() (int, int) { return 0, 2 }), false},
		{"no trunks configured", AnyUpCheck("trunks", func() (int, int) { return 0, 0 }), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check.Check(context.Background())
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.check.Name)) {
				t.Fatalf("error should name the check and wrap ErrUnavailable: %v", err)
			}
		})
	}
}
