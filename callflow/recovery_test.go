package callflow

import (
	"context"
	"slices"
	"testing"

	"go.uber.org/zap/zaptest"
)

// restart stops the harness's controller (channels stay up, like Asterisk after a
// linkctl kill) and starts a fresh one on the same switch.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	<-h.done
	ctl, err := New(h.f, Options{Config: testConfig(), Sink: h.sink, History: h.sink, Logger: zaptest.NewLogger(h.t)})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.ctl, h.stop, h.done = ctl, cancel, make(chan struct{})
	done := h.done
	go func() { defer close(done); _ = ctl.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
	h.f.emit(Connected{})
}

func TestRecoveryAfterRestart(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(h *harness, id string)
		state   CallState
		partner []string
		outcome TransferOutcome // of the first transfer, if any
	}{
		{"talking call goes on", func(h *harness, id string) {}, StateTalking, []string{ep1001}, ""},
		{"three-way goes on", func(h *harness, id string) {
			h.f.behave[ep2001] = fbehave{kind: "answer"}
			h.softkey(id, KeyThreeWay, category(Dir12345To110))
			h.waitState(id, StateThreeWay)
		}, StateThreeWay, []string{ep2001, ep1001}, OutcomeHandedOver},
		{"ringing transfer rolled back to the first agent", func(h *harness, id string) {
			h.softkey(id, KeyTransfer, category(Dir12345To110))
			h.waitState(id, StateTransferRinging)
		}, StateTalking, []string{ep1001}, OutcomeFailed},
		{"answered transfer finished", func(h *harness, id string) {
			h.softkey(id, KeyTransfer, category(Dir12345To110))
			h.waitState(id, StateTransferRinging)
			// The other side answers while linkctl is away: no StasisStart reaches anyone.
			target := h.agentChan(id, RoleAgent110)
			h.stop()
			<-h.done
			h.f.mu.Lock()
			h.f.chans[target].up, h.f.chans[target].inStasis = true, true
			h.f.mu.Unlock()
		}, StateTalking, []string{ep2001}, OutcomeCompleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
			id := h.call("12345")
			tt.setup(h, id)
			before, _ := h.sink.GetCall(context.Background(), id)
			h.restart()
			r := h.waitState(id, tt.state)
			if !r.Started.Equal(before.Started) || r.Version <= before.Version || len(r.Legs) < len(before.Legs) || r.Legs[0].ChannelID != "cit-12345" {
				t.Errorf("record did not go on from the stored one: before v%d %v, after v%d %v", before.Version, before.Started, r.Version, r.Started)
			}
			eventually(t, "caller bridged as before/after settling", func() bool {
				return slices.Equal(h.f.partners("cit-12345"), tt.partner)
			})
			if h.f.hears("cit-12345") != "party" {
				t.Errorf("caller hears %s after recovery", h.f.hears("cit-12345"))
			}
			if r.FirstPlatform != Platform12345 {
				t.Errorf("first platform %s", r.FirstPlatform)
			}
			if tt.state == StateThreeWay {
				if res := h.softkey(id, KeyHandOver, ""); !res.Accepted {
					t.Fatalf("hand over after recovery: %+v", res)
				}
				eventually(t, "handed over", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep2001}) })
			}
			r = h.callerHangsUpAndAllIsClean(id, "cit-12345")
			if tt.outcome != "" && (len(r.Transfers) != 1 || r.Transfers[0].Outcome != tt.outcome) {
				t.Errorf("transfers %+v, want one with outcome %s", r.Transfers, tt.outcome)
			}
		})
	}
}

func TestRecoveryReleasesAgentsOfAGoneCitizen(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
	id := h.call("12345")
	agent := h.agentChan(id, RoleAgent12345)
	h.stop()
	<-h.done
	h.f.remoteHangup("cit-12345") // while nobody listens
	h.restart()
	eventually(t, "agent released", func() bool { return h.f.hears(agent) == "gone" && h.f.liveBridges() == 0 })
}
