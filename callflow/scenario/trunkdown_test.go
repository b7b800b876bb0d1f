package scenario

import (
	"context"
	"strings"
	"testing"

	"linkctl/ari/sim"
	"linkctl/callflow"
)

// TestTransferRefusedWhile110Offline runs over real ARI on the embedded switch: with
// the 110 endpoint offline, the one-key transfer is refused at once with a zh-CN
// reason, the caller stays bridged with the 12345 agent and the 110 phone never rings;
// back online, the same call's transfer goes through.
func TestTransferRefusedWhile110Offline(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t, nil)
	res := Run(ctx, env, Scenario{Name: "one-key refused while 110 is offline", run: func(s *Step) {
		phone110 := env.Switch.Sim.Phone(Agent110).SetOffline(true)
		defer phone110.SetOffline(false)
		c, id := s.dial("12345", Agent12345)
		res := s.softkey(id, callflow.KeyTransfer, s.category(callflow.Dir12345To110))
		if res.Accepted || !strings.Contains(res.Reason, "110平台") || !strings.Contains(res.Reason, "无法转接") {
			s.Fatalf("softkey result %+v, want refused with a reason", res)
		}
		s.Notef("agent told: %s", res.Reason)
		s.bridged(c, "after the refusal", Agent12345)
		if n := len(phone110.Calls()); n != 0 {
			s.Errorf("110 phone was called %d times while offline", n)
		}
		r := s.record(id)
		if len(r.Transfers) != 0 || r.State != callflow.StateTalking.String() {
			s.Errorf("record after refusal: state %s, %d transfers", r.State, len(r.Transfers))
		}
		if sk := r.Softkeys[len(r.Softkeys)-1]; sk.Accepted || sk.Reason != res.Reason {
			s.Errorf("softkey not recorded as refused: %+v", sk)
		}
		phone110.SetOffline(false)
		s.script(Agent110, sim.Script{Behavior: sim.Answer})
		if res := s.softkey(id, callflow.KeyTransfer, s.category(callflow.Dir12345To110)); !res.Accepted {
			s.Fatalf("transfer refused with 110 online: %s", res.Reason)
		}
		s.bridged(c, "110 answered", Agent110)
		s.hangupAndCheck(c, id)
	}})
	for _, r := range res.Records {
		t.Logf("record %s: %d legs, %d softkeys", r.ID, len(r.Legs), len(r.Softkeys))
	}
	if !res.Pass {
		t.Errorf("failed: %v", res.Failures)
	}
}
