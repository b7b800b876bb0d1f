package callflow

import (
	"slices"
	"strings"
	"testing"

	"linkctl/config"
)

func TestEndpointOfDial(t *testing.T) {
	tests := []struct {
		dial string
		want endpointRef
		ok   bool
	}{
		{"PJSIP/a110-2001", endpointRef{Tech: "PJSIP", Resource: "a110-2001"}, true},
		{"PJSIP/110@to110", endpointRef{Tech: "PJSIP", Resource: "to110", Trunk: true}, true},
		{"PJSIP/to110/sip:110@10.0.0.9:5060", endpointRef{Tech: "PJSIP", Resource: "to110", Trunk: true}, true},
		{"Sim/a110-2001", endpointRef{Tech: "Sim", Resource: "a110-2001"}, true},
		{"Local/110@from-linkctl", endpointRef{}, false},
		{"PJSIP/110@", endpointRef{}, false},
		{"a110-2001", endpointRef{}, false},
		{"", endpointRef{}, false},
	}
	for _, tt := range tests {
		got, ok := endpointOfDial(tt.dial)
		if got != tt.want || ok != tt.ok {
			t.Errorf("endpointOfDial(%q) = %+v %v, want %+v %v", tt.dial, got, ok, tt.want, tt.ok)
		}
	}
}

// TestTransferRefusedWhenTargetOffline: a transfer towards a platform whose every
// endpoint is offline is refused at once with the reason; the caller stays with the
// first agent and nothing is dialled. unknown, online or an endpoint the PBX does
// not know let the transfer go ahead.
func TestTransferRefusedWhenTargetOffline(t *testing.T) {
	const trunkA, trunkB = "PJSIP/110@to110", "PJSIP/110@to110-b"
	tests := []struct {
		name    string
		states  map[string]EndpointStatus
		refused string // reason substring; "" = transfer goes ahead
	}{
		{"all trunks offline", map[string]EndpointStatus{"PJSIP/to110": EndpointOffline, "PJSIP/to110-b": EndpointOffline}, "110平台中继线路全部中断"},
		{"one trunk online", map[string]EndpointStatus{"PJSIP/to110": EndpointOffline, "PJSIP/to110-b": EndpointOnline}, ""},
		{"one trunk unknown", map[string]EndpointStatus{"PJSIP/to110": EndpointOffline, "PJSIP/to110-b": EndpointUnknown}, ""},
		{"one trunk not known to the PBX", map[string]EndpointStatus{"PJSIP/to110": EndpointOffline}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, trunkA: {kind: "manual"}, trunkB: {kind: "manual"}}, func(c *config.ControllerConfig) {
				c.Groups["110"] = config.GroupConfig{Agents: []string{trunkA, trunkB}, Strategy: "ring-all", RingTimeout: c.Groups["110"].RingTimeout}
			})
			for ep, st := range tt.states {
				h.f.setEndpointState(ep, st)
			}
			id := h.call("12345")
			res := h.softkey(id, KeyTransfer, category(Dir12345To110))
			originated := slices.ContainsFunc(h.f.commands(), func(c string) bool { return strings.Contains(c, "originate") && strings.Contains(c, "@to110") })
			r := h.rec(id)
			if tt.refused == "" {
				if !res.Accepted || !originated {
					t.Fatalf("transfer should go ahead: %+v, originated %v", res, originated)
				}
				return
			}
			if res.Accepted || !strings.Contains(res.Reason, tt.refused) {
				t.Fatalf("result %+v, want refused with %q", res, tt.refused)
			}
			if originated {
				t.Error("a trunk was dialled although every trunk is offline")
			}
			if r.State != StateTalking.String() || len(r.Transfers) != 0 {
				t.Errorf("call state %s, %d transfers; want talking with no transfer", r.State, len(r.Transfers))
			}
			if p := h.f.partners("cit-12345"); !slices.Equal(p, []string{ep1001}) {
				t.Errorf("caller bridged with %v, want the first agent", p)
			}
			sk := r.Softkeys[len(r.Softkeys)-1]
			if sk.Accepted || sk.Reason != res.Reason || sk.Key != string(KeyTransfer) {
				t.Errorf("softkey record %+v", sk)
			}
		})
	}
}

// TestInboundFlagsMakeCallConfidential: X-Linkage-Flags is read on any inbound
// call (even without the other linkage headers), a restricted flag marks the call
// Confidential, and a transfer to 12345 carries the flags but not the 警单号, the
// category or the sending agent.
func TestInboundFlagsMakeCallConfidential(t *testing.T) {
	tests := []struct {
		name         string
		flags        string
		restricted   []string
		confidential bool
		kept         string // the known flags kept and sent on
	}{
		{"restricted flag", "涉案", nil, true, "涉案"},
		{"restricted among others", "加急, 涉稳", nil, true, "涉稳"},
		{"unknown flag word dropped", "加急", nil, false, ""},
		{"policy without the flag", "涉案", []string{"涉密"}, false, "涉案"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePBX()
			f.behave[ep2001] = fbehave{kind: "answer"}
			f.behave[ep1001] = fbehave{kind: "manual"}
			f.vars["cit-110"] = map[string]string{"PJSIP_HEADER(read,X-Linkage-Flags)": tt.flags}
			h := newHarnessOn(t, f, Options{RestrictedFlags: tt.restricted})
			id := h.call("110")
			r := h.rec(id)
			if r.InboundHeaders[HeaderFlags] != tt.kept || r.Confidential != tt.confidential {
				t.Fatalf("headers %v confidential %v, want flags %q confidential %v", r.InboundHeaders, r.Confidential, tt.kept, tt.confidential)
			}
			if _, ok := r.InboundHeaders[HeaderCallID]; ok {
				t.Error("absent call id header on the record")
			}
			if res := h.softkey(id, KeyTransfer, category(Dir110To12345)); !res.Accepted {
				t.Fatalf("transfer refused: %s", res.Reason)
			}
			leg := h.agentChan(id, RoleAgent12345)
			vars := h.f.originateVars(leg)
			if vars["PJSIP_HEADER(add,"+HeaderFlags+")"] != tt.kept {
				t.Errorf("flags not sent on: %v", vars)
			}
			_, ticket := vars["PJSIP_HEADER(add,"+HeaderTicket+")"]
			_, cat := vars["PJSIP_HEADER(add,"+HeaderCategory+")"]
			_, uui := vars["PJSIP_HEADER(add,"+HeaderUUI+")"]
			if leaked := ticket || cat || uui; leaked == tt.confidential {
				t.Errorf("confidential %v but ticket/category/UUI sent %v: %v", tt.confidential, leaked, vars)
			}
		})
	}
}

// TestEveryLegEndsWithACause: legs that end without a ChannelDestroyed (inbound
// channels on Asterisk, or the call stopped listening) record Normal Clearing, or
// the cause of the hangup request when it gives one.
func TestEveryLegEndsWithACause(t *testing.T) {
	tests := []struct {
		name      string
		hangup    func(f *fakePBX, id string)
		cause     int
		causeText string
	}{
		{"remote BYE (cause 0, StasisEnd only)", func(f *fakePBX, id string) { f.remoteHangup(id) }, 16, "Normal Clearing"},
		{"hangup request with a cause", func(f *fakePBX, id string) {
			f.mu.Lock()
			c := f.chans[id]
			f.removeLocked(c)
			delete(f.chans, id)
			f.mu.Unlock()
			f.emit(HangupRequest{ChannelID: id, Cause: 17}, StasisEnd{ChannelID: id})
		}, 17, "User busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
			id := h.call("12345")
			tt.hangup(h.f, "cit-12345")
			r := h.waitState(id, StateEnded)
			for _, l := range r.Legs {
				if l.Cause == 0 || l.CauseText == "" {
					t.Errorf("leg %s (%s) ended without a cause: %+v", l.ChannelID, l.Role, l)
				}
			}
			if c := r.Legs[0]; c.Role != RoleCitizen || c.Cause != tt.cause || c.CauseText != tt.causeText {
				t.Errorf("citizen leg cause %d %q, want %d %q", c.Cause, c.CauseText, tt.cause, tt.causeText)
			}
		})
	}
}
