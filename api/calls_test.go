package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

func TestSoftkeyReachesController(t *testing.T) {
	ctl := newFakeController(sampleCall("c1", t0))
	m := mustMatters(t)
	srv := testServer(t, Options{Controller: ctl, Matters: func() *config.Matters { return m }})
	a := call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent12345,
		`{"key":"three-way","ticket_id":"GD-77","category":"社会治安类/盗砸抢骗"}`)
	if a.status != 200 || a.body["accepted"] != true || a.body["transfer_id"] != "tr-1" || a.body["call_id"] != "c1" {
		t.Fatalf("answer %d %s", a.status, a.raw)
	}
	got := ctl.requests()
	// The agent is named, not a channel picked from the record: the controller finds the agent's connected leg.
	want := callflow.SoftkeyRequest{CallID: "c1", Agent: "a12345-1001", Key: "three-way",
		TicketID: "GD-77", Category: "社会治安类/盗砸抢骗", Source: "http"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("controller got %+v, want %+v", got, want)
	}
	// The 110 agent's category is checked against the 110->12345 list.
	a = call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent110, `{"key":"transfer","category":"社会治安类/盗砸抢骗"}`)
	if a.status != 400 || a.errField("code") != "unknown_category" || !strings.Contains(a.errField("message"), "110->12345") {
		t.Fatalf("110 agent with a 12345->110 category: %d %s", a.status, a.raw)
	}
	// emergency key sets the flag
	call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent12345, `{"key":"emergency"}`)
	if got := ctl.requests(); !got[len(got)-1].Emergency {
		t.Fatalf("emergency key did not set Emergency: %+v", got[len(got)-1])
	}
}

func TestSoftkeyControllerAnswers(t *testing.T) {
	tests := []struct {
		name     string
		res      callflow.SoftkeyResult
		err      error
		want     int
		code     string
		msgHas   string
		noLeakOf string
	}{
		{"refused", callflow.SoftkeyResult{Accepted: false, Reason: "转接振铃中，不能发起三方通话"}, nil, 409, "softkey_refused", "转接振铃中", ""},
		{"duplicate accepted once", callflow.SoftkeyResult{Accepted: true, Duplicate: true, TransferID: "tr-9"}, nil, 200, "", "", ""},
		{"call gone", callflow.SoftkeyResult{}, fmt.Errorf("call c1: %w", ErrNotFound), 404, "not_found", "未找到", ""},
		{"category", callflow.SoftkeyResult{}, fmt.Errorf("transfer: %w", config.ErrUnknownCategory), 400, "unknown_category", "转办事项清单", ""},
		{"pbx timeout", callflow.SoftkeyResult{}, fmt.Errorf("originate: %w", context.DeadlineExceeded), 504, "timeout", "超时", ""},
		{"internal", callflow.SoftkeyResult{}, errors.New("ari password=hunter2 rejected"), 500, "internal", "内部错误", "hunter2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctl := newFakeController(sampleCall("c1", t0))
			ctl.answer = func(callflow.SoftkeyRequest) (callflow.SoftkeyResult, error) { return tc.res, tc.err }
			srv := testServer(t, Options{Controller: ctl})
			a := call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent12345, `{"key":"cancel"}`)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.code != "" && (a.errField("code") != tc.code || !strings.Contains(a.errField("message"), tc.msgHas)) {
				t.Fatalf("error %s", a.raw)
			}
			if tc.noLeakOf != "" && strings.Contains(string(a.raw), tc.noLeakOf) {
				t.Fatalf("internal detail leaked: %s", a.raw)
			}
			if tc.name == "refused" {
				res, _ := a.body["result"].(map[string]any)
				if res["accepted"] != false {
					t.Fatalf("refusal must carry the result: %s", a.raw)
				}
			}
			if tc.name == "duplicate accepted once" && a.body["duplicate"] != true {
				t.Fatalf("duplicate flag lost: %s", a.raw)
			}
		})
	}
}

func TestSoftkeyBoundedInTime(t *testing.T) {
	ctl := newFakeController(sampleCall("c1", t0))
	ctl.answer = nil
	hung := make(chan struct{})
	defer close(hung)
	ctl.block = hung
	srv := testServer(t, Options{Controller: ctl, SoftkeyTimeout: 50 * time.Millisecond})
	a := call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent12345, `{"key":"cancel"}`)
	if a.status != 504 || a.errField("code") != "timeout" {
		t.Fatalf("a controller that never answers: %d %s", a.status, a.raw)
	}
}

func TestSoftkeyUnknownCall(t *testing.T) {
	srv := testServer(t, Options{Controller: newFakeController()})
	a := call(t, srv, "POST", "/v1/calls/nope/softkeys", tokAdmin, `{"key":"cancel","agent":"a12345-1001"}`)
	if a.status != 404 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	srv = testServer(t, Options{})
	if a = call(t, srv, "POST", "/v1/calls/nope/softkeys", tokAdmin, `{"key":"cancel","agent":"x"}`); a.status != 503 {
		t.Fatalf("no controller: %d", a.status)
	}
}

func TestListCallsFilters(t *testing.T) {
	st := newFakeStore()
	for i := range 5 {
		rec := sampleCall(fmt.Sprintf("c%d", i), t0.Add(time.Duration(i)*time.Hour))
		if i%2 == 1 {
			rec.FirstPlatform, rec.OwnerPlatform = callflow.Platform110, callflow.Platform110
			rec.Legs[1].Agent, rec.Legs[1].Endpoint, rec.Legs[1].Role = "a110-2002", "PJSIP/a110-2002", callflow.RoleAgent110
			rec.Legs = rec.Legs[:2]
		}
		st.save(rec)
	}
	srv := testServer(t, Options{Store: st})
	tests := []struct {
		name, query string
		want        int
		ids         []string
		field       string
	}{
		{"all, newest first", "", 200, []string{"c4", "c3", "c2", "c1", "c0"}, ""},
		{"platform touched", "?platform=12345", 200, []string{"c4", "c2", "c0"}, ""},
		{"platform touched 110", "?platform=110", 200, []string{"c4", "c3", "c2", "c1", "c0"}, ""},
		{"agent id", "?agent=a12345-1001", 200, []string{"c4", "c2", "c0"}, ""},
		{"ticket", "?ticket=JQ-c2", 200, []string{"c2"}, ""},
		{"time window", "?from=2026-12-03T09:00:00Z&to=2026-12-03T11:00:00Z", 200, []string{"c2", "c1"}, ""},
		{"limit", "?limit=2", 200, []string{"c4", "c3"}, ""},
		{"category prefix", "?category=社会治安类", 200, []string{"c4", "c3", "c2", "c1", "c0"}, ""},
		{"bad platform", "?platform=119", 400, nil, "platform"},
		{"bad time", "?from=yesterday", 400, nil, "from"},
		{"to before from", "?from=2026-12-03&to=2026-12-02", 400, nil, "to"},
		{"bad limit", "?limit=0", 400, nil, "limit"},
		{"huge limit", "?limit=100000", 400, nil, "limit"},
		{"unknown param", "?colour=red", 400, nil, "colour"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, srv, "GET", "/v1/calls"+tc.query, tokSup, "")
			if a.status != tc.want {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
			if tc.want != 200 {
				if a.errField("field") != tc.field {
					t.Fatalf("field %q, want %q: %s", a.errField("field"), tc.field, a.raw)
				}
				return
			}
			var ids []string
			for _, c := range a.body["calls"].([]any) {
				ids = append(ids, c.(map[string]any)["id"].(string))
			}
			if strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
				t.Fatalf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
}

func TestListCallsFromControllerWithoutStore(t *testing.T) {
	ctl := newFakeController(sampleCall("live-1", t0), sampleCall("live-2", t0.Add(time.Minute)))
	srv := testServer(t, Options{Controller: ctl})
	a := call(t, srv, "GET", "/v1/calls?limit=1", tokSup, "")
	if a.status != 200 || a.body["count"] != float64(1) {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if id := a.body["calls"].([]any)[0].(map[string]any)["id"]; id != "live-2" {
		t.Fatalf("newest first: got %v", id)
	}
}

func TestGetCallPrefersNewestVersion(t *testing.T) {
	live := sampleCall("c1", t0)
	live.Version, live.State = 9, "three-way"
	stored := sampleCall("c1", t0)
	stored.Version = 8
	srv := testServer(t, Options{Controller: newFakeController(live), Store: newFakeStore(stored)})
	a := call(t, srv, "GET", "/v1/calls/c1", tokSup, "")
	if a.status != 200 || a.body["version"] != float64(9) || a.body["state"] != "three-way" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if legs := a.body["legs"].([]any); len(legs) != 3 {
		t.Fatalf("legs: %v", legs)
	}
	if a = call(t, srv, "GET", "/v1/calls/zzz", tokSup, ""); a.status != 404 || a.errField("code") != "not_found" {
		t.Fatalf("missing call: %d %s", a.status, a.raw)
	}
}

func confidentialCall() callflow.CallRecord {
	rec := sampleCall("secret", t0)
	rec.FirstPlatform, rec.Confidential, rec.Category = callflow.Platform110, true, "涉案/线索"
	return rec
}

func TestRestrictedRecordsFor12345Readers(t *testing.T) {
	st := newFakeStore(confidentialCall(), sampleCall("open", t0))
	policy := store.NewPolicy(config.ConfidentialityConfig{
		RestrictedFlags:   config.DefaultRestrictedFlags,
		RecordFields12345: []string{"id", "started", "first_platform"},
	})
	redact := policy.RedactFor
	t.Run("with redactor", func(t *testing.T) {
		srv := testServer(t, Options{Store: st, Redact: redact})
		a := call(t, srv, "GET", "/v1/calls/secret", tokSup12345, "")
		if a.status != 200 || a.body["id"] != "secret" {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		for _, k := range []string{"ticket_110", "category", "legs"} {
			if _, present := a.body[k]; present {
				t.Fatalf("restricted field %q present for a 12345 reader: %s", k, a.raw)
			}
		}
		a = call(t, srv, "GET", "/v1/calls/secret", tokSup, "")
		if a.body["ticket_110"] != "JQ-secret" || a.body["category"] != "涉案/线索" {
			t.Fatalf("unrestricted reader lost fields: %s", a.raw)
		}
	})
	t.Run("without redactor", func(t *testing.T) {
		srv := testServer(t, Options{Store: st})
		if a := call(t, srv, "GET", "/v1/calls/secret", tokSup12345, ""); a.status != 404 {
			t.Fatalf("restricted record shown: %d %s", a.status, a.raw)
		}
		a := call(t, srv, "GET", "/v1/calls", tokSup12345, "")
		if a.body["count"] != float64(1) || strings.Contains(string(a.raw), "JQ-secret") {
			t.Fatalf("list leaks: %s", a.raw)
		}
		if a := call(t, srv, "GET", "/v1/calls", tokSup, ""); a.body["count"] != float64(2) {
			t.Fatalf("110/all reader should see both: %s", a.raw)
		}
	})
}

// sseReader reads server-sent events from a live /v1/events stream.
type sseReader struct {
	sc *bufio.Scanner
}

type sseEvent struct{ id, event, data string }

func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if ev.event != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
	if err := r.sc.Err(); err != nil {
		return ev, err
	}
	return ev, errors.New("stream ended")
}

// openEvents opens /v1/events; with a fake store it checks the subscription exists
// once the headers arrive (the handler subscribes before it answers).
func openEvents(t *testing.T, url, token string, st *fakeStore) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	before := 0
	if st != nil {
		before = st.subscribers()
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/events?access_token="+token, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if st != nil && st.subscribers() != before+1 {
		t.Fatalf("subscribers %d, want %d", st.subscribers(), before+1)
	}
	return &sseReader{sc: bufio.NewScanner(res.Body)}
}

func TestEventsStreamEveryUpdate(t *testing.T) {
	st := newFakeStore()
	srv := testServer(t, Options{Store: st, Heartbeat: time.Hour})
	all := openEvents(t, srv.URL, tokSup, st)
	side12345 := openEvents(t, srv.URL, tokSup12345, st)

	st.save(confidentialCall())
	rec := sampleCall("c9", t0)
	rec.Version = 8
	st.save(rec)

	for _, want := range []string{"secret:7", "c9:8"} {
		ev, err := all.next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.event != "call" || ev.id != want {
			t.Fatalf("event %+v, want id %s", ev, want)
		}
		var got callflow.CallRecord
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil || len(got.Legs) != 3 {
			t.Fatalf("data %q: %v", ev.data, err)
		}
	}
	// The 12345-side reader (no redactor configured) never receives the restricted record.
	ev, err := side12345.next()
	if err != nil || ev.id != "c9:8" {
		t.Fatalf("12345 reader got %+v %v, want only c9:8", ev, err)
	}
}

func TestEventsEndWhenClientLeaves(t *testing.T) {
	st := newFakeStore()
	srv := testServer(t, Options{Store: st, Heartbeat: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tokSup)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(res.Body)
	pings := 0
	for pings < 2 && sc.Scan() {
		if sc.Text() == ": ping" {
			pings++
		}
	}
	if pings < 2 {
		t.Fatalf("no heartbeats: %v", sc.Err())
	}
	cancel()
	res.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for st.subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("subscription not released after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventStreamsCapped(t *testing.T) {
	st := newFakeStore()
	srv := testServer(t, Options{Store: st, MaxStreams: 1, Heartbeat: time.Hour})
	openEvents(t, srv.URL, tokSup, st)
	a := call(t, srv, "GET", "/v1/events", tokSup, "")
	if a.status != 503 || a.errField("code") != "too_many_streams" {
		t.Fatalf("second stream over the cap: %d %s", a.status, a.raw)
	}
	if st.subscribers() != 1 {
		t.Fatalf("refused stream must not subscribe: %d", st.subscribers())
	}
}
