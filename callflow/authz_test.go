package callflow

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"linkctl/config"
)

const ep1002 = "Sim/a12345-1002"

// press sends a softkey as a named agent (and channel) and returns the answer and error.
func (h *harness) press(id string, req SoftkeyRequest) (SoftkeyResult, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req.CallID, req.Source = id, SourceHTTP
	return h.ctl.Softkey(ctx, req)
}

// legOf returns the record's leg of an agent (the first one rung).
func legOf(r CallRecord, agent string) Leg {
	for _, l := range r.Legs {
		if l.Agent == agent {
			return l
		}
	}
	return Leg{}
}

// Only the agent connected with the citizen may act: an agent whose phone only rang
// (ring-all, another agent answered) or a name that is no leg at all is refused with
// ErrNotConnected, and nothing of the press reaches the record.
func TestSoftkeyOnlyFromConnectedAgent(t *testing.T) {
	twoAgents := func(c *config.ControllerConfig) {
		c.Groups["12345"] = config.GroupConfig{Agents: []string{ep1001, ep1002}, Strategy: "ring-all", RingTimeout: config.Duration(time.Second)}
	}
	cat := category(Dir12345To110)
	tests := []struct {
		name     string
		req      func(r CallRecord) SoftkeyRequest
		accepted bool
	}{
		{"agent who only rang, by channel", func(r CallRecord) SoftkeyRequest {
			return SoftkeyRequest{ChannelID: legOf(r, "a12345-1002").ChannelID, Agent: "a12345-1002", Key: KeyTransfer, Category: cat}
		}, false},
		{"agent who only rang, by name", func(r CallRecord) SoftkeyRequest {
			return SoftkeyRequest{Agent: "a12345-1002", Key: KeyTransfer, Category: cat}
		}, false},
		{"ghost agent", func(r CallRecord) SoftkeyRequest {
			return SoftkeyRequest{Agent: "ghost", Key: KeyTransfer, Category: cat}
		}, false},
		{"connected agent naming another's channel", func(r CallRecord) SoftkeyRequest {
			return SoftkeyRequest{ChannelID: legOf(r, "a12345-1002").ChannelID, Agent: "a12345-1001", Key: KeyTransfer, Category: cat}
		}, false},
		{"connected agent by endpoint", func(r CallRecord) SoftkeyRequest {
			return SoftkeyRequest{Agent: ep1001, Key: KeyTransfer, Category: cat}
		}, true},
		{"connected agent by channel", func(r CallRecord) SoftkeyRequest {
			return SoftkeyRequest{ChannelID: legOf(r, "a12345-1001").ChannelID, Key: KeyTransfer, Category: cat}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer", delay: 20 * time.Millisecond}, ep1002: {kind: "manual"}, ep2001: {kind: "manual"}}, twoAgents)
			id := h.call("12345")
			eventually(t, "the agent who only rang is released", func() bool {
				return legOf(h.rec(id), "a12345-1002").HungUp != nil
			})
			before := h.rec(id)
			res, err := h.press(id, tt.req(before))
			if tt.accepted {
				if err != nil || !res.Accepted {
					t.Fatalf("connected agent refused: %+v %v", res, err)
				}
				r := h.waitState(id, StateTransferRinging)
				if got := r.Transfers[0].FromAgent; got != "a12345-1001" {
					t.Errorf("transfer from %q", got)
				}
				return
			}
			if !errors.Is(err, ErrNotConnected) || res.Accepted || res.Reason == "" {
				t.Fatalf("want refusal wrapping ErrNotConnected with a reason, got %+v %v", res, err)
			}
			r := h.rec(id)
			if r.State != StateTalking.String() || len(r.Transfers) != 0 || len(r.Softkeys) != 0 {
				t.Errorf("refused press changed the call: state %s transfers %+v softkeys %+v", r.State, r.Transfers, r.Softkeys)
			}
			if p := h.f.partners("cit-12345"); !slices.Equal(p, []string{ep1001}) {
				t.Errorf("caller moved: partners %v", p)
			}
		})
	}
}

// In a three-way either platform's connected agent may settle it; during a one-key
// transfer the first agent may cancel and the ringing target may not.
func TestSoftkeyConnectedAgentsPerState(t *testing.T) {
	t.Run("three-way: the 110 agent keeps", func(t *testing.T) {
		h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "answer"}}, nil)
		id := h.call("12345")
		h.softkey(id, KeyThreeWay, category(Dir12345To110))
		h.waitState(id, StateThreeWay)
		res, err := h.press(id, SoftkeyRequest{Agent: "a110-2001", Key: KeyKeep})
		if err != nil || !res.Accepted {
			t.Fatalf("110 agent refused in a three-way: %+v %v", res, err)
		}
		if r := h.waitState(id, StateTalking); r.Transfers[0].Outcome != OutcomeKept || r.Softkeys[len(r.Softkeys)-1].Agent != "a110-2001" {
			t.Errorf("outcome %s softkeys %+v", r.Transfers[0].Outcome, r.Softkeys)
		}
	})
	t.Run("one-key ringing: target may not cancel, first agent may", func(t *testing.T) {
		h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
		id := h.call("12345")
		h.softkey(id, KeyTransfer, category(Dir12345To110))
		h.waitState(id, StateTransferRinging)
		target := h.agentChan(id, RoleAgent110)
		if res, err := h.press(id, SoftkeyRequest{ChannelID: target, Key: KeyCancel}); !errors.Is(err, ErrNotConnected) || res.Accepted {
			t.Fatalf("ringing target cancelled: %+v %v", res, err)
		}
		if res, err := h.press(id, SoftkeyRequest{Agent: "a12345-1001", Key: KeyCancel}); err != nil || !res.Accepted {
			t.Fatalf("first agent could not cancel: %+v %v", res, err)
		}
		if r := h.waitState(id, StateTalking); r.Transfers[0].Outcome != OutcomeCancelled {
			t.Errorf("outcome %s", r.Transfers[0].Outcome)
		}
	})
}
