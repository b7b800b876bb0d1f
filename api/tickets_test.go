package api

import (
	"context"
	"testing"
	"time"

	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/callflow/scenario"
)

// TestLinkTicketEndToEnd: on a real call (embedded switch, controller, SQLite store) the
// 12345 agent links its 工单号 during the call; after the call ended an admin links the
// 110 警单号. Agents who were not on the call, agents of the other platform, supervisors
// and bad ids are refused, and the stored record carries both tickets.
func TestLinkTicketEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts the embedded switch")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := startStack(t, ctx, testTokens())
	c, err := s.sw.Sim.Phone(scenario.Citizen).Call(ctx, "12345", sim.WithCallerID("市民", "13800138000"))
	if err != nil {
		t.Fatal(err)
	}
	id := s.talkingCall(t, ctx)
	path := "/v1/calls/" + id + "/tickets"

	refused := []struct {
		name, token, body, code string
		status                  int
	}{
		{"110 agent not on the call", tokAgent110, `{"platform":"110","ticket_id":"JD-1"}`, "forbidden", 403},
		{"12345 agent links a 110 ticket", tokAgent12345, `{"platform":"110","ticket_id":"JD-1"}`, "forbidden", 403},
		{"supervisor is read-only", tokSup, `{"platform":"12345","ticket_id":"GD-1"}`, "", 403},
		{"ticket with a line break", tokAgent12345, `{"platform":"12345","ticket_id":"GD-1\r\nX: y"}`, "", 400},
		{"unknown platform", tokAgent12345, `{"platform":"119","ticket_id":"GD-1"}`, "", 400},
		{"missing ticket", tokAgent12345, `{"platform":"12345"}`, "", 400},
	}
	for _, tc := range refused {
		a := call(t, s.srv, "POST", path, tc.token, tc.body)
		if a.status != tc.status || (tc.code != "" && a.errField("code") != tc.code) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, a.status, a.raw, tc.status, tc.code)
		}
	}

	a := call(t, s.srv, "POST", path, tokAgent12345, `{"platform":"12345","ticket_id":"GD-2026-000900"}`)
	if a.status != 200 || a.body["ticket_12345"] != "GD-2026-000900" {
		t.Fatalf("12345 agent links its ticket: %d %s", a.status, a.raw)
	}
	if a := call(t, s.srv, "POST", path, tokAgent12345, `{"platform":"12345","ticket_id":"GD-OTHER"}`); a.status != 409 || a.errField("code") != "ticket_conflict" {
		t.Errorf("second, different 12345 ticket: %d %s, want 409 ticket_conflict", a.status, a.raw)
	}

	c.Hangup()
	waitUntil(t, ctx, "the call ends", func() bool {
		r, _ := s.ctl.Call(id)
		return r.State == callflow.StateEnded.String()
	})
	a = call(t, s.srv, "POST", path, tokAdmin, `{"platform":"110","ticket_id":"JD-2026-000042"}`)
	if a.status != 200 || a.body["ticket_110"] != "JD-2026-000042" || a.body["ticket_12345"] != "GD-2026-000900" {
		t.Fatalf("admin links the 110 ticket after the call: %d %s", a.status, a.raw)
	}
	waitUntil(t, ctx, "the store has both tickets", func() bool {
		r, err := s.st.GetCall(ctx, id)
		return err == nil && r.Ticket110 == "JD-2026-000042" && r.Ticket12345 == "GD-2026-000900" && r.Ended != nil
	})
}
