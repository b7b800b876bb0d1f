package api

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/callflow/scenario"
	"linkctl/config"
)

const (
	agent1002    = "a12345-1002"
	tokAgent1002 = "agent-token-12345-1002"
)

// The newcomer review's repro over real peers: 1001 and 1002 ring together, 1001
// answers, 1002 only rang. 1002's desk (or, in dev mode, a request naming 1002 or a
// made-up agent) pressing one-key transfer is refused with 403 and a zh-CN reason;
// the citizen stays with 1001 and the record shows no press and no transfer. 1001
// may act.
func TestSoftkeyOnlyConnectedAgentMayAct(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts the embedded switch")
	}
	tests := []struct {
		name   string
		tokens []config.APIToken
		token  string
		body   string
	}{
		{"token of the agent who only rang", append(testTokens(), config.APIToken{Name: "desk-1002", Token: tokAgent1002, Role: "agent", Agent: agent1002, Platform: "12345"}),
			tokAgent1002, `{"key":"transfer","ticket_id":"GD-FORGED","category":"%s"}`},
		{"dev mode naming the agent who only rang", []config.APIToken{}, "", `{"key":"transfer","agent":"` + agent1002 + `","ticket_id":"GD-FORGED","category":"%s"}`},
		{"dev mode naming a ghost", []config.APIToken{}, "", `{"key":"transfer","agent":"ghost","ticket_id":"GD-FORGED","category":"%s"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := startStack(t, ctx, tc.tokens, func(cfg *config.Config) {
				g := cfg.Controller.Groups["12345"]
				g.Agents = append(slices.Clone(g.Agents), "Sim/"+agent1002)
				cfg.Controller.Groups["12345"] = g
			})
			s.sw.Sim.Phone(agent1002).SetScript(sim.Script{Behavior: sim.NoAnswer})
			if _, err := s.sw.Sim.Phone(scenario.Citizen).Call(ctx, "12345", sim.WithCallerID("市民", "13800138000")); err != nil {
				t.Fatal(err)
			}
			id := s.talkingCall(t, ctx)
			waitUntil(t, ctx, "1002 rang and was released", func() bool {
				r, _ := s.ctl.Call(id)
				for _, l := range r.Legs {
					if l.Agent == agent1002 && l.HungUp != nil {
						return true
					}
				}
				return false
			})
			cat := s.cfg.Matters.Names(string(callflow.Dir12345To110))[0]
			body := strings.Replace(tc.body, "%s", cat, 1)
			a := call(t, s.srv, "POST", "/v1/calls/"+id+"/softkeys", tc.token, body)
			if a.status != 403 || a.errField("code") != "not_connected" || !strings.Contains(a.errField("message"), "未与市民通话") {
				t.Fatalf("press by an agent not connected: %d %s", a.status, a.raw)
			}
			r, _ := s.ctl.Call(id)
			if r.State != callflow.StateTalking.String() || len(r.Transfers) != 0 || len(r.Softkeys) != 0 || r.Ticket12345 != "" {
				t.Fatalf("refused press changed the record: state %s transfers %+v softkeys %+v ticket %q", r.State, r.Transfers, r.Softkeys, r.Ticket12345)
			}
			// The connected agent still may act.
			tok, named := tokAgent12345, ""
			if tc.token == "" {
				tok, named = "", `"agent":"`+scenario.Agent12345+`",`
			}
			a = call(t, s.srv, "POST", "/v1/calls/"+id+"/softkeys", tok, `{`+named+`"key":"transfer","ticket_id":"GD-1","category":"`+cat+`"}`)
			if a.status != 200 || a.body["accepted"] != true {
				t.Fatalf("connected agent: %d %s", a.status, a.raw)
			}
			r, _ = s.ctl.Call(id)
			if len(r.Transfers) != 1 || r.Transfers[0].FromAgent != scenario.Agent12345 {
				t.Fatalf("transfer %+v", r.Transfers)
			}
		})
	}
}
