package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// ticketSink is a loopback ticket system that records what it receives.
type ticketSink struct {
	mu   sync.Mutex
	docs []map[string]any
}

func (s *ticketSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	s.mu.Lock()
	s.docs = append(s.docs, doc)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// The API over the real store (SQLite in a temp dir) and a real ticket system on loopback.
func TestAPIWithRealStore(t *testing.T) {
	sink := &ticketSink{}
	ts := httptest.NewServer(sink)
	defer ts.Close()
	cfg := config.Default().Store
	cfg.Path = filepath.Join(t.TempDir(), "linkctl.db")
	cfg.Outbox.BackoffMin = config.Duration(10 * time.Millisecond)
	cfg.Outbox.Poll = config.Duration(20 * time.Millisecond)
	cfg.TicketSystems = []config.TicketSystemConfig{{Name: "gd-12345", Platform: "12345", URL: ts.URL, Secret: "sink-secret-0123456789", Timeout: config.Duration(time.Second)}}
	ctx := t.Context()
	st, err := store.Open(ctx, cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	m := mustMatters(t)
	srv := testServer(t, Options{Store: st, Redact: st.RedactFor, Matters: func() *config.Matters { return m }})

	// Live stream first, then records as the controller would write them.
	events := openEvents(t, srv.URL, tokSup, nil)
	open := sampleCall("real-1", t0)
	secret := confidentialCall()
	for _, rec := range []callflow.CallRecord{open, secret} {
		if err := st.SaveCall(rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"real-1:7", "secret:7"} {
		ev, err := events.next()
		if err != nil || ev.id != want {
			t.Fatalf("event %+v %v, want %s", ev, err, want)
		}
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	a := call(t, srv, "GET", "/v1/calls?agent=a110-2001&from=2026-12-03", tokSup, "")
	if a.status != 200 || a.body["count"] != float64(2) {
		t.Fatalf("list: %d %s", a.status, a.raw)
	}
	a = call(t, srv, "GET", "/v1/calls/real-1", tokAgent110, "")
	if a.status != 200 || len(a.body["legs"].([]any)) != 3 {
		t.Fatalf("agent reads own call: %d %s", a.status, a.raw)
	}
	// The store's policy redacts the restricted record for the 12345 side: fields absent.
	a = call(t, srv, "GET", "/v1/calls/secret", tokSup12345, "")
	if a.status != 200 || a.body["id"] != "secret" {
		t.Fatalf("restricted for 12345: %d %s", a.status, a.raw)
	}
	for _, k := range []string{"ticket_110", "category", "legs", "caller_number", "transfers"} {
		if _, present := a.body[k]; present {
			t.Fatalf("restricted field %q reached a 12345 reader: %s", k, a.raw)
		}
	}
	if a = call(t, srv, "GET", "/v1/calls/secret", tokSup, ""); a.body["ticket_110"] != "JQ-secret" {
		t.Fatalf("full reader: %s", a.raw)
	}

	// A push through its life cycle, with the store's state machine behind the API.
	a = call(t, srv, "POST", "/v1/pushes", tokAgent12345, `{"direction":"12345->110","category":"社会治安类/盗砸抢骗","summary":"电动车连续被盗","ticket_12345":"GD-9"}`)
	if a.status != 201 {
		t.Fatalf("create push: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	for _, step := range []struct {
		path, body string
		want       int
		status     string
		code       string
	}{
		{"/status", `{"status":"handle"}`, 409, "", "illegal_transition"},
		{"/status", `{"status":"accept","ticket":"JQ-9"}`, 200, "accepted", ""},
		{"/status", `{"status":"accept"}`, 409, "", "illegal_transition"},
		{"/feedback", `{"result":"已立案侦查"}`, 409, "", "illegal_transition"},
		{"/status", `{"status":"handle"}`, 200, "handled", ""},
		{"/feedback", `{"result":"已立案侦查","handler":"城东派出所","ticket":"JQ-9","original_ticket":"GD-9"}`, 200, "fed-back", ""},
	} {
		a = call(t, srv, "POST", "/v1/pushes/"+id+step.path, tokAgent110, step.body)
		if a.status != step.want || (step.status != "" && a.body["status"] != step.status) || (step.code != "" && a.errField("code") != step.code) {
			t.Fatalf("%s %s: %d %s", step.path, step.body, a.status, a.raw)
		}
	}
	if a = call(t, srv, "GET", "/v1/pushes?status=fed-back&ticket=GD-9", tokSup, ""); a.body["count"] != float64(1) {
		t.Fatalf("list pushes: %s", a.raw)
	}
	if a = call(t, srv, "GET", "/v1/pushes?status=done", tokSup, ""); a.status != 400 || a.errField("field") != "status" {
		t.Fatalf("bad status filter: %s", a.raw)
	}

	// Deliveries to the ticket system become visible per record.
	deadline := time.Now().Add(10 * time.Second)
	for {
		a = call(t, srv, "GET", "/v1/pushes/"+id+"/deliveries", tokSup, "")
		ds, _ := a.body["deliveries"].([]any)
		delivered := 0
		for _, d := range ds {
			if d.(map[string]any)["state"] == "delivered" {
				delivered++
			}
		}
		if a.status == 200 && delivered >= 3 { // created, accepted, feedback
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("push deliveries never all delivered: %s", a.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if a = call(t, srv, "GET", "/v1/calls/real-1/deliveries", tokSup, ""); a.status != 200 || !strings.Contains(string(a.raw), "call:real-1:v7") {
		t.Fatalf("call deliveries: %s", a.raw)
	}

	a = call(t, srv, "GET", "/v1/stats/daily?date=2026-12-03", tokSup, "")
	if a.status != 200 || a.body["calls"] != float64(2) || a.body["day"] != "2026-12-03" {
		t.Fatalf("daily stats: %s", a.raw)
	}
	if a = call(t, srv, "GET", "/readyz", "", ""); a.status != 200 || a.body["checks"].(map[string]any)["store"] != "ok" {
		t.Fatalf("readyz: %s", a.raw)
	}
}
