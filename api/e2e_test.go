package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"linkctl/ari/client"
	"linkctl/ari/embedded"
	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/callflow/scenario"
	"linkctl/config"
	"linkctl/store"
)

// End to end over real peers: the embedded switch with Sim phones, the ARI
// adapter, the controller writing to the SQLite store, and the API on loopback.
// An agent desktop presses the one-key transfer over HTTP; the caller ends up
// with 110; the supervisor stream sees every version up to the end.
// stack is the real thing on loopback: embedded switch with Sim phones, ARI
// adapter, controller writing the SQLite store, and the API.
type stack struct {
	srv *httptest.Server
	sw  *embedded.Switch
	ctl *callflow.Controller
	st  *store.Store
	cfg *config.Config
}

func startStack(t *testing.T, ctx context.Context, tokens []config.APIToken, mods ...func(*config.Config)) *stack {
	t.Helper()
	log := zap.NewNop()
	cfg := scenario.Config()
	for _, mod := range mods {
		mod(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	scfg := cfg.Store
	scfg.Path = filepath.Join(t.TempDir(), "linkctl.db")
	st, err := store.Open(ctx, scfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sw, err := embedded.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	for _, p := range []string{scenario.Citizen, scenario.Agent12345, scenario.Agent110} {
		sw.Sim.Phone(p).SetScript(sim.Script{Behavior: sim.Answer, AnswerAfter: 100 * time.Millisecond})
	}
	pbx, err := client.New(client.Options{URL: sw.URL, WebsocketURL: sw.WebsocketURL, Username: sw.Username, Password: sw.Password,
		Application: cfg.ARI.Application, RequestTimeout: cfg.ARI.RequestTimeout.D(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := callflow.New(pbx, callflow.Options{Config: cfg.Controller, Matters: cfg.Matters, Sink: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go func() { _ = pbx.Run(runCtx) }()
	go func() { _ = ctl.Run(runCtx) }()
	srv := testServer(t, Options{Controller: ctl, Store: st, Redact: st.RedactFor, Matters: ctl.Matters, Tokens: tokens,
		Ready: []ReadyCheck{ConnectedCheck("ari", pbx.Connected)}})
	waitUntil(t, ctx, "ready", func() bool { return call(t, srv, "GET", "/readyz", "", "").status == 200 })
	return &stack{srv: srv, sw: sw, ctl: ctl, st: st, cfg: cfg}
}

// talkingCall waits until a call is talking with its first agent and returns its id.
func (s *stack) talkingCall(t *testing.T, ctx context.Context, exclude ...string) string {
	t.Helper()
	var id string
	waitUntil(t, ctx, "the call reaches the first agent", func() bool {
		for _, r := range s.ctl.Calls() {
			if r.State == callflow.StateTalking.String() && !slices.Contains(exclude, r.ID) {
				id = r.ID
				return true
			}
		}
		return false
	})
	return id
}

// End to end over real peers: an agent desktop presses the one-key transfer over
// HTTP; the caller ends up with 110; the supervisor stream sees every version up
// to the end.
func TestSoftkeyOverHTTPEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts the embedded switch")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := startStack(t, ctx, nil)
	srv, sw, cfg, st := s.srv, s.sw, s.cfg, s.st
	events := openEvents(t, srv.URL, tokSup, nil)

	caller, err := sw.Sim.Phone(scenario.Citizen).Call(ctx, "12345", sim.WithCallerID("市民", "13800138000"))
	if err != nil {
		t.Fatal(err)
	}
	id := s.talkingCall(t, ctx)
	a := call(t, srv, "GET", "/v1/calls?agent="+scenario.Agent12345, tokSup, "")
	if a.status != 200 {
		t.Fatalf("list: %d %s", a.status, a.raw)
	}

	category := cfg.Matters.Names(string(callflow.Dir12345To110))[0]
	// The 110 agent is not on this call yet: refused before the controller sees it.
	if a := call(t, srv, "POST", "/v1/calls/"+id+"/softkeys", tokAgent110, `{"key":"transfer"}`); a.status != 403 {
		t.Fatalf("110 agent on a call it is not part of: %d %s", a.status, a.raw)
	}
	a = call(t, srv, "POST", "/v1/calls/"+id+"/softkeys", tokAgent12345,
		`{"key":"transfer","ticket_id":"GD-E2E-1","category":"`+category+`"}`)
	if a.status != 200 || a.body["accepted"] != true || a.body["transfer_id"] == "" {
		t.Fatalf("one-key transfer over HTTP: %d %s", a.status, a.raw)
	}
	waitUntil(t, ctx, "110 takes the caller", func() bool {
		a := call(t, srv, "GET", "/v1/calls/"+id, tokSup, "")
		return a.body["owner_platform"] == "110" && a.body["state"] == callflow.StateTalking.String()
	})
	// Keep only makes sense in a three-way call: the controller refuses with a zh-CN reason.
	a = call(t, srv, "POST", "/v1/calls/"+id+"/softkeys", tokAgent110, `{"key":"keep"}`)
	if a.status != 409 || a.errField("code") != "softkey_refused" {
		t.Fatalf("keep outside three-way: %d %s", a.status, a.raw)
	}

	caller.Hangup()
	// The stream carries every version; the last one has the call ended.
	for {
		ev, err := events.next()
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		var rec callflow.CallRecord
		if err := json.Unmarshal([]byte(ev.data), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ID == id && rec.Ended != nil {
			if len(rec.Transfers) != 1 || rec.Transfers[0].Outcome != callflow.OutcomeCompleted || rec.Ticket12345 != "GD-E2E-1" {
				t.Fatalf("final record: %+v", rec)
			}
			if len(rec.Softkeys) < 2 || rec.Softkeys[0].Source != callflow.SourceHTTP || rec.Softkeys[0].Agent != scenario.Agent12345 {
				t.Fatalf("softkeys on the record: %+v", rec.Softkeys)
			}
			break
		}
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	a = call(t, srv, "GET", "/v1/calls?ticket=GD-E2E-1", tokSup, "")
	if a.body["count"] != float64(1) || !strings.Contains(string(a.raw), `"role":"agent-110"`) {
		t.Fatalf("stored record by ticket: %s", a.raw)
	}
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
