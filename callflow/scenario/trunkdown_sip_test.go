package scenario

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/sip/tech"
)

// TestTransferRefusedWhenSIPTrunkDown: the 110 group is reached through a SIP trunk
// ("PJSIP/110@to110") whose peer never answers OPTIONS. Once sip/tech marks the
// trunk down, the controller reads it over ARI (GET /endpoints/PJSIP/to110 ->
// offline) and refuses the one-key transfer at once with the trunk reason, the
// caller staying with the 12345 agent and no INVITE going out.
func TestTransferRefusedWhenSIPTrunkDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // a peer that reads nothing and answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config()
	cfg.Controller.Groups["110"] = config.GroupConfig{Agents: []string{"PJSIP/110@to110"}, Strategy: "ring-all", RingTimeout: config.Duration(2 * time.Second)}
	log := zaptest.NewLogger(t)
	env, err := Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	sipCfg := cfg.SIP
	sipCfg.ListenUDP, sipCfg.ListenTCP = "127.0.0.1:0", ""
	sipCfg.Trunks = []config.SIPTrunk{{Name: "to110", Platform: "110", Address: silent.LocalAddr().String(), OptionsInterval: config.Duration(200 * time.Millisecond)}}
	tc, err := tech.Attach(ctx, env.Switch.Engine, sipCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	deadline := time.Now().Add(40 * time.Second) // OPTIONS gives up after its transaction timeout
	for st, _ := env.PBX.EndpointState(ctx, "PJSIP", "to110"); st != callflow.EndpointOffline; st, _ = env.PBX.EndpointState(ctx, "PJSIP", "to110") {
		if time.Now().After(deadline) {
			t.Fatalf("trunk never reported offline over ARI (last %v, trunks %+v)", st, tc.Trunks())
		}
		time.Sleep(50 * time.Millisecond)
	}
	res := Run(ctx, env, Scenario{Name: "one-key refused: 110 trunk down", run: func(s *Step) {
		c, id := s.dial("12345", Agent12345)
		res := s.softkey(id, callflow.KeyTransfer, s.category(callflow.Dir12345To110))
		if res.Accepted || !strings.Contains(res.Reason, "110平台中继线路全部中断") {
			s.Fatalf("softkey result %+v, want refused: trunk down", res)
		}
		s.Notef("agent told: %s", res.Reason)
		s.bridged(c, "after the refusal", Agent12345)
		r := s.record(id)
		if len(r.Transfers) != 0 || len(r.Legs) != 2 {
			s.Errorf("record after refusal: %d transfers, %d legs (a trunk leg was dialled?)", len(r.Transfers), len(r.Legs))
		}
		s.hangupAndCheck(c, id)
	}})
	if !res.Pass {
		t.Errorf("failed: %v", res.Failures)
	}
}
