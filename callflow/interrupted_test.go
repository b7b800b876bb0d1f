package callflow

import (
	"context"
	"strings"
	"testing"
)

// vanish removes channels from the fake switch without a word, as when the switch
// died with linkctl (embedded) and came back empty.
func (f *fakePBX) vanish(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if c := f.chans[id]; c != nil {
			f.removeLocked(c)
			delete(f.chans, id)
		}
	}
}

// After kill -9 and a restart, a call whose channels are gone is closed as
// interrupted (ended, version+1, saved through the sink, open legs hung up, its
// pending transfer interrupted); a call whose channels are still up is adopted and
// goes on.
func TestRestartClosesCallsWhoseChannelsAreGone(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
	gone := h.call("12345")
	h.softkey(gone, KeyTransfer, category(Dir12345To110))
	h.waitState(gone, StateTransferRinging)
	h.f.inbound("cit-110", "110", "13900000000")
	var kept string
	eventually(t, "second call rings 110", func() bool {
		for _, r := range h.ctl.Calls() {
			if r.ID != gone {
				kept = r.ID
				for _, l := range r.Legs {
					if l.Role == RoleAgent110 && l.HungUp == nil && r.State == StateRouting.String() {
						h.f.answerLeg(l.ChannelID)
					}
				}
				return r.State == StateTalking.String()
			}
		}
		return false
	})
	before, _ := h.sink.GetCall(context.Background(), gone)
	h.stop()
	<-h.done
	var chans []string
	for _, l := range before.Legs {
		chans = append(chans, l.ChannelID)
	}
	h.f.vanish(chans...)
	h.restart()

	var r CallRecord
	eventually(t, "the cut-off call closed", func() bool {
		r, _ = h.sink.GetCall(context.Background(), gone)
		return r.Ended != nil
	})
	if r.State != StateEnded.String() || r.Outcome != string(OutcomeInterrupted) || r.Version != before.Version+1 ||
		!strings.Contains(r.EndCause, "restarted") || !strings.Contains(r.EndCause, "gone") {
		t.Errorf("closed record: state %s outcome %q version %d (was %d) cause %q", r.State, r.Outcome, r.Version, before.Version, r.EndCause)
	}
	for _, l := range r.Legs {
		if l.HungUp == nil {
			t.Errorf("leg %s left open", l.ChannelID)
		}
	}
	if len(r.Transfers) != 1 || r.Transfers[0].Outcome != OutcomeInterrupted || r.Transfers[0].Completed == nil {
		t.Errorf("pending transfer not closed: %+v", r.Transfers)
	}
	if got, ok := h.ctl.Call(gone); !ok || got.Outcome != string(OutcomeInterrupted) {
		t.Errorf("controller view of the closed call: %+v %v", got, ok)
	}
	// The call still on the switch was adopted, not closed.
	k := h.waitState(kept, StateTalking)
	if k.Ended != nil || k.Outcome != "" {
		t.Errorf("adopted call closed: %+v", k)
	}
	if u, _ := h.sink.UnfinishedCalls(context.Background()); len(u) != 1 || u[0].ID != kept {
		t.Errorf("unfinished after the sweep: %+v", u)
	}
}
