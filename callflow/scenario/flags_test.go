package scenario

import (
	"context"
	"testing"
	"time"

	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// TestFlaggedPoliceCallNeverReaches12345InFull runs over real ARI on the embedded
// switch: a 110 call arriving with X-Linkage-Flags: 涉案 is Confidential on its
// record; transferred to 12345, the 12345 phone gets the flags but no 警单号,
// category or agent header; and the record as the store's policy hands it to the
// 12345 side has none of the restricted fields.
func TestFlaggedPoliceCallNeverReaches12345InFull(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t, nil)
	res := Run(ctx, env, Scenario{Name: "flagged 110 call transferred to 12345", run: func(s *Step) {
		target := s.manual(Agent12345)
		c, err := env.Switch.Sim.Phone(Citizen).Call(s.ctx, "110", sim.WithHeaders(engine.Header{Name: callflow.HeaderFlags, Value: "涉案"}))
		if err != nil {
			s.Fatalf("citizen call: %v", err)
		}
		wctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		if err := c.Wait(wctx, sim.CallUp); err != nil {
			s.Fatalf("citizen call not answered: %v", err)
		}
		id := s.callOf(c.ChannelID())
		s.callIDs = append(s.callIDs, id)
		s.bridged(c, "caller talks with the 110 agent", Agent110)
		if r := s.record(id); !r.Confidential || r.InboundHeaders[callflow.HeaderFlags] != "涉案" {
			s.Errorf("record confidential=%v headers %v", r.Confidential, r.InboundHeaders)
		}
		if res := s.softkey(id, callflow.KeyTransfer, s.category(callflow.Dir110To12345)); !res.Accepted {
			s.Fatalf("transfer refused: %s", res.Reason)
		}
		leg := s.incoming(target, Agent12345)
		hs := map[string]string{}
		for _, h := range leg.Options.Headers {
			hs[h.Name] = h.Value
		}
		if hs[callflow.HeaderFlags] != "涉案" || hs[callflow.HeaderCallID] != id {
			s.Errorf("12345 leg lacks the flags or the call id: %v", hs)
		}
		for _, h := range []string{callflow.HeaderTicket, callflow.HeaderCategory, callflow.HeaderAgent, callflow.HeaderUUI} {
			if v, ok := hs[h]; ok {
				s.Errorf("12345 leg got restricted header %s=%q", h, v)
			}
		}
		leg.Answer()
		s.bridged(c, "12345 answered", Agent12345)
		r := s.hangupAndCheck(c, id)
		doc, err := store.NewPolicy(config.Default().Store.Confidentiality).RedactFor(callflow.Platform12345, r)
		if err != nil {
			s.Fatalf("redact: %v", err)
		}
		for _, f := range []string{"ticket_110", "category", "inbound_headers", "legs", "transfers"} {
			if _, ok := doc[f]; ok {
				s.Errorf("record for 12345 carries %s", f)
			}
		}
		if _, ok := doc["id"]; !ok {
			s.Errorf("record for 12345 lost its id: %v", doc)
		}
	}})
	if !res.Pass {
		t.Errorf("failed: %v", res.Failures)
	}
}
