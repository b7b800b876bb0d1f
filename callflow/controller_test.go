package callflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/config"
)

const (
	ep1001 = "Sim/a12345-1001"
	ep2001 = "Sim/a110-2001"
	ep2009 = "Sim/a110-emergency"
)

type recSink struct {
	mu   sync.Mutex
	recs []CallRecord
	// full makes SaveCall refuse, as the store does when its write buffer is full.
	full    atomic.Bool
	refused atomic.Int64
}

var errSinkFull = errors.New("write buffer full")

// GetCall returns the highest version saved (the store's contract), as History.
func (s *recSink) GetCall(_ context.Context, id string) (CallRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best CallRecord
	for _, r := range s.recs {
		if r.ID == id && r.Version >= best.Version {
			best = r
		}
	}
	if best.ID == "" {
		return best, ErrCallNotFound
	}
	return best, nil
}

// UnfinishedCalls returns the newest version of each call that has not ended.
func (s *recSink) UnfinishedCalls(context.Context) ([]CallRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	newest := map[string]CallRecord{}
	var order []string
	for _, r := range s.recs {
		cur, ok := newest[r.ID]
		if !ok {
			order = append(order, r.ID)
		}
		if !ok || r.Version >= cur.Version {
			newest[r.ID] = r
		}
	}
	var out []CallRecord
	for _, id := range order {
		if r := newest[id]; r.Ended == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *recSink) SaveCall(r CallRecord) error {
	if s.full.Load() {
		s.refused.Add(1)
		return fmt.Errorf("save call %s v%d: %w", r.ID, r.Version, errSinkFull)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
	return nil
}

type harness struct {
	t    *testing.T
	f    *fakePBX
	ctl  *Controller
	sink *recSink
	stop context.CancelFunc
	done chan struct{}
}

func testConfig() config.ControllerConfig {
	c := config.Default().Controller
	c.Groups = map[string]config.GroupConfig{
		"12345": {Agents: []string{ep1001}, Strategy: "ring-all", RingTimeout: config.Duration(time.Second)},
		"110":   {Agents: []string{ep2001}, Strategy: "ring-all", RingTimeout: config.Duration(time.Second)},
	}
	c.TransferRingTimeout = config.Duration(300 * time.Millisecond)
	c.Emergency = config.EmergencyConfig{Agents: []string{ep2009}, RingTimeout: config.Duration(400 * time.Millisecond)}
	c.AnnouncementMax = config.Duration(30 * time.Millisecond)
	c.TeardownTimeout = config.Duration(time.Second)
	return c
}

func newHarness(t *testing.T, behave map[string]fbehave, mod func(*config.ControllerConfig)) *harness {
	t.Helper()
	f := newFakePBX()
	for ep, b := range behave {
		f.behave[ep] = b
	}
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	return newHarnessOn(t, f, Options{Config: cfg})
}

// newHarnessOn runs a controller on f; a zero opts.Config means testConfig().
func newHarnessOn(t *testing.T, f *fakePBX, opts Options) *harness {
	t.Helper()
	if opts.Config.Groups == nil {
		opts.Config = testConfig()
	}
	sink := &recSink{}
	opts.Sink, opts.Logger = sink, zaptest.NewLogger(t)
	ctl, err := New(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, f: f, ctl: ctl, sink: sink, stop: cancel, done: make(chan struct{})}
	go func() { defer close(h.done); _ = ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

// call starts an inbound call and waits until an agent talks with the caller.
func (h *harness) call(entry string) (callID string) {
	h.t.Helper()
	h.f.inbound("cit-"+entry, entry, "13800000000")
	eventually(h.t, "caller bridged with an agent", func() bool { return len(h.f.partners("cit-"+entry)) == 1 })
	recs := h.ctl.Calls()
	if len(recs) != 1 {
		h.t.Fatalf("want 1 call, got %d", len(recs))
	}
	return recs[0].ID
}

func (h *harness) rec(id string) CallRecord {
	r, ok := h.ctl.Call(id)
	if !ok {
		h.t.Fatalf("no record %s", id)
	}
	return r
}

func (h *harness) waitState(id string, st CallState) CallRecord {
	h.t.Helper()
	eventually(h.t, "state "+st.String(), func() bool { r, _ := h.ctl.Call(id); return r.State == st.String() })
	return h.rec(id)
}

func (h *harness) agentChan(id string, role LegRole) string {
	for _, l := range h.rec(id).Legs {
		if l.Role == role && l.HungUp == nil {
			return l.ChannelID
		}
	}
	h.t.Fatalf("no live %s leg", role)
	return ""
}

func (h *harness) softkey(id string, key Key, category string) SoftkeyResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := h.ctl.Softkey(ctx, SoftkeyRequest{CallID: id, Key: key, Category: category, TicketID: "GD-2026-000123", Source: SourceHTTP})
	if err != nil {
		h.t.Fatalf("softkey %s: %v", key, err)
	}
	return res
}

// callerHangsUpAndAllIsClean ends the call from the citizen side and checks nothing is left.
func (h *harness) callerHangsUpAndAllIsClean(id, callerChan string) CallRecord {
	h.t.Helper()
	h.f.remoteHangup(callerChan)
	r := h.waitState(id, StateEnded)
	eventually(h.t, "no channel or bridge left", func() bool { return h.f.liveChannels() == 0 && h.f.liveBridges() == 0 })
	if r.Ended == nil {
		h.t.Error("ended call has no end time")
	}
	return r
}

func category(dir Direction) string {
	m, _ := config.LoadMatters("")
	return m.Names(string(dir))[0]
}

func TestOneKey12345To110Answered(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
	id := h.call("12345")
	agent := h.agentChan(id, RoleAgent12345)
	cat := category(Dir12345To110)

	res := h.softkey(id, KeyTransfer, cat)
	if !res.Accepted || res.TransferID == "" {
		t.Fatalf("transfer refused: %+v", res)
	}
	h.waitState(id, StateTransferRinging)
	if p := h.f.partners("cit-12345"); len(p) != 0 {
		t.Errorf("caller still bridged while the transfer rings: %v", p)
	}
	eventually(t, "caller hears announcement then MOH", func() bool { return h.f.hears("cit-12345") == "moh" })
	target := h.agentChan(id, RoleAgent110)
	v := h.f.originateVars(target)
	if v["PJSIP_HEADER(add,X-Linkage-Category)"] != cat || v["PJSIP_HEADER(add,X-Linkage-Ticket)"] != "GD-2026-000123" ||
		v["PJSIP_HEADER(add,X-Linkage-Origin)"] != "12345" || v[VarCallID] != id {
		t.Errorf("metadata missing on the new leg: %v", v)
	}

	h.f.answerLeg(target)
	r := h.waitState(id, StateTalking)
	eventually(t, "caller with the 110 agent", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep2001}) })
	eventually(t, "first agent released", func() bool { return h.f.hears(agent) == "gone" })
	if h.f.hears("cit-12345") != "party" {
		t.Errorf("caller hears %s after the transfer", h.f.hears("cit-12345"))
	}
	r = h.rec(id)
	tr := r.Transfers[0]
	if tr.Outcome != OutcomeCompleted || tr.Direction != Dir12345To110 || tr.Answered == nil || tr.Completed == nil || tr.ToAgent != "a110-2001" || tr.Category != cat {
		t.Errorf("transfer record %+v", tr)
	}
	if r.OwnerPlatform != Platform110 || r.FirstPlatform != Platform12345 || r.Ticket12345 != "GD-2026-000123" {
		t.Errorf("record owner/first/ticket: %+v", r)
	}
	r = h.callerHangsUpAndAllIsClean(id, "cit-12345")
	if r.Outcome != string(OutcomeCompleted) {
		t.Errorf("call outcome %q", r.Outcome)
	}
	for _, l := range r.Legs {
		if l.HungUp == nil {
			t.Errorf("leg %s has no hangup time", l.ChannelID)
		}
	}
	h.sink.mu.Lock()
	recs := slices.Clone(h.sink.recs)
	h.sink.mu.Unlock()
	if len(recs) < 4 || recs[len(recs)-1].Version <= recs[0].Version || recs[len(recs)-1].State != StateEnded.String() {
		t.Errorf("sink did not receive increasing versions up to the end: %d records", len(recs))
	}
}

func TestOneKeyFailureReturnsCallerToFirstAgent(t *testing.T) {
	tests := []struct {
		name    string
		behave  fbehave
		outcome TransferOutcome
	}{
		{"no answer", fbehave{kind: "noanswer"}, OutcomeNoAnswer},
		{"busy", fbehave{kind: "busy", delay: 20 * time.Millisecond}, OutcomeBusy},
		{"unavailable", fbehave{kind: "unavailable"}, OutcomeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: tt.behave}, nil)
			id := h.call("12345")
			agent := h.agentChan(id, RoleAgent12345)
			if res := h.softkey(id, KeyTransfer, category(Dir12345To110)); !res.Accepted {
				t.Fatalf("refused: %+v", res)
			}
			eventually(t, "transfer finished", func() bool {
				r := h.rec(id)
				return len(r.Transfers) == 1 && r.Transfers[0].Outcome != OutcomePending
			})
			r := h.waitState(id, StateTalking)
			if got := r.Transfers[0]; got.Outcome != tt.outcome || got.Reason == "" {
				t.Errorf("outcome %q reason %q, want %q", got.Outcome, got.Reason, tt.outcome)
			}
			eventually(t, "caller back with first agent", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep1001}) })
			if !slices.ContainsFunc(h.f.commands(), func(c string) bool { return strings.HasPrefix(c, "play tone:") && strings.HasSuffix(c, agent) }) {
				t.Errorf("first agent was not told: %v", h.f.commands())
			}
			if r.OwnerPlatform != Platform12345 {
				t.Errorf("owner %s", r.OwnerPlatform)
			}
			h.callerHangsUpAndAllIsClean(id, "cit-12345")
		})
	}
}

func TestOneKey110To12345(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep2001: {kind: "answer"}, ep1001: {kind: "answer", delay: 20 * time.Millisecond}}, nil)
	id := h.call("110")
	cat := category(Dir110To12345)
	if res := h.softkey(id, KeyTransfer, cat); !res.Accepted {
		t.Fatalf("refused: %+v", res)
	}
	eventually(t, "caller with the 12345 agent", func() bool { return slices.Equal(h.f.partners("cit-110"), []string{ep1001}) })
	r := h.waitState(id, StateTalking)
	if r.Transfers[0].Direction != Dir110To12345 || r.OwnerPlatform != Platform12345 || r.Ticket110 != "GD-2026-000123" {
		t.Errorf("record %+v", r)
	}
	h.callerHangsUpAndAllIsClean(id, "cit-110")
}

func TestThreeWayResolutions(t *testing.T) {
	tests := []struct {
		key     Key
		partner string
		owner   Platform
		outcome TransferOutcome
	}{
		{KeyHandOver, ep2001, Platform110, OutcomeHandedOver},
		{KeyKeep, ep1001, Platform12345, OutcomeKept},
		{KeyUndetermined, ep1001, Platform12345, OutcomeUndetermined}, // first-receiving platform keeps
	}
	for _, tt := range tests {
		t.Run(string(tt.key), func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
			id := h.call("12345")
			if res := h.softkey(id, KeyThreeWay, category(Dir12345To110)); !res.Accepted {
				t.Fatalf("refused: %+v", res)
			}
			h.waitState(id, StateConsultRinging)
			if p := h.f.partners("cit-12345"); !slices.Equal(p, []string{ep1001}) {
				t.Errorf("while the other side rings the caller must keep the first agent, has %v", p)
			}
			h.f.answerLeg(h.agentChan(id, RoleAgent110))
			h.waitState(id, StateThreeWay)
			eventually(t, "all three bridged", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep2001, ep1001}) })
			if res := h.softkey(id, tt.key, ""); !res.Accepted {
				t.Fatalf("%s refused: %+v", tt.key, res)
			}
			r := h.waitState(id, StateTalking)
			eventually(t, "two parties left", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{tt.partner}) })
			if r.OwnerPlatform != tt.owner || r.Transfers[0].Outcome != tt.outcome || r.Transfers[0].Mode != ModeThreeWay {
				t.Errorf("owner %s outcome %s", r.OwnerPlatform, r.Transfers[0].Outcome)
			}
			h.callerHangsUpAndAllIsClean(id, "cit-12345")
		})
	}
}

func TestThreeWayAgentHangupLeavesOtherTwo(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "answer"}}, nil)
	id := h.call("12345")
	agent := h.agentChan(id, RoleAgent12345)
	h.softkey(id, KeyThreeWay, category(Dir12345To110))
	h.waitState(id, StateThreeWay)
	h.f.remoteHangup(agent)
	r := h.waitState(id, StateTalking)
	eventually(t, "caller with 110 agent", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep2001}) })
	if r.Transfers[0].Outcome != OutcomeHandedOver {
		t.Errorf("outcome %s", r.Transfers[0].Outcome)
	}
	h.callerHangsUpAndAllIsClean(id, "cit-12345")
}

func TestThreeWayCallerHangupEndsAll(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "answer"}}, nil)
	id := h.call("12345")
	h.softkey(id, KeyThreeWay, category(Dir12345To110))
	h.waitState(id, StateThreeWay)
	r := h.callerHangsUpAndAllIsClean(id, "cit-12345")
	if r.Transfers[0].Outcome != OutcomeCallerGone {
		t.Errorf("outcome %s", r.Transfers[0].Outcome)
	}
}

func TestEmergency(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2009: {kind: "manual"}}, nil)
		id := h.call("12345")
		agent := h.agentChan(id, RoleAgent12345)
		res := h.softkey(id, KeyEmergency, "") // emergency needs no category
		if !res.Accepted {
			t.Fatalf("refused: %+v", res)
		}
		h.waitState(id, StateEmergencyRinging)
		if p := h.f.partners("cit-12345"); !slices.Equal(p, []string{ep1001}) {
			t.Errorf("first agent must stay on until 110 answers, caller has %v", p)
		}
		target := h.agentChan(id, RoleAgent110)
		if h.f.originateVars(target)["PJSIP_HEADER(add,X-Linkage-Emergency)"] != "1" {
			t.Errorf("emergency header missing: %v", h.f.originateVars(target))
		}
		h.f.answerLeg(target)
		r := h.waitState(id, StateTalking)
		eventually(t, "caller with 110", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep2009}) })
		eventually(t, "first agent released", func() bool { return h.f.hears(agent) == "gone" })
		if !r.Emergency || r.Transfers[0].Mode != ModeEmergency {
			t.Errorf("record %+v", r.Transfers[0])
		}
		h.callerHangsUpAndAllIsClean(id, "cit-12345")
	})
	t.Run("no answer", func(t *testing.T) {
		h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2009: {kind: "noanswer"}}, nil)
		id := h.call("12345")
		agent := h.agentChan(id, RoleAgent12345)
		h.softkey(id, KeyEmergency, "")
		eventually(t, "emergency failed", func() bool { r := h.rec(id); return r.Transfers[0].Outcome == OutcomeNoAnswer })
		if p := h.f.partners("cit-12345"); !slices.Equal(p, []string{ep1001}) {
			t.Errorf("caller must still be with the first agent, has %v", p)
		}
		if !slices.ContainsFunc(h.f.commands(), func(c string) bool { return strings.HasPrefix(c, "play ") && strings.HasSuffix(c, agent) }) {
			t.Error("first agent not told that 110 did not answer")
		}
		h.callerHangsUpAndAllIsClean(id, "cit-12345")
	})
}

func TestCallerHangsUpWhileTargetRings(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
	id := h.call("12345")
	h.softkey(id, KeyTransfer, category(Dir12345To110))
	h.waitState(id, StateTransferRinging)
	target := h.agentChan(id, RoleAgent110)
	r := h.callerHangsUpAndAllIsClean(id, "cit-12345")
	if r.Transfers[0].Outcome != OutcomeCallerGone {
		t.Errorf("outcome %s", r.Transfers[0].Outcome)
	}
	if !slices.Contains(h.f.commands(), "hangup "+target+" normal") {
		t.Errorf("ringing leg not cancelled: %v", h.f.commands())
	}
}

func TestDoublePressActsOnce(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
	id := h.call("12345")
	cat := category(Dir12345To110)
	first := h.softkey(id, KeyTransfer, cat)
	second := h.softkey(id, KeyTransfer, cat)
	if !first.Accepted || !second.Accepted || !second.Duplicate || second.TransferID != first.TransferID {
		t.Fatalf("first %+v second %+v", first, second)
	}
	n := 0
	for _, c := range h.f.commands() {
		if strings.HasPrefix(c, "originate") && strings.HasSuffix(c, ep2001) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d originates to 110, want 1", n)
	}
	r := h.rec(id)
	if len(r.Transfers) != 1 || len(r.Softkeys) != 1 {
		t.Errorf("transfers %d softkeys %d, want 1/1", len(r.Transfers), len(r.Softkeys))
	}
	// A conflicting softkey is refused with a reason.
	conflict := h.softkey(id, KeyThreeWay, cat)
	if conflict.Accepted || !strings.Contains(conflict.Reason, "取消") {
		t.Errorf("conflict %+v", conflict)
	}
	// Cancel brings the caller back.
	if res := h.softkey(id, KeyCancel, ""); !res.Accepted {
		t.Fatalf("cancel %+v", res)
	}
	r = h.waitState(id, StateTalking)
	eventually(t, "caller back", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep1001}) })
	if r.Transfers[0].Outcome != OutcomeCancelled {
		t.Errorf("outcome %s", r.Transfers[0].Outcome)
	}
	h.callerHangsUpAndAllIsClean(id, "cit-12345")
}

func TestCategoryMustBelongToDirection(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
	id := h.call("12345")
	wrong := category(Dir110To12345)
	if _, err := h.ctl.Matters().Lookup(string(Dir12345To110), wrong); err == nil {
		t.Skip("the first 110->12345 category is also a 12345->110 one")
	}
	for _, cat := range []string{wrong, ""} {
		res := h.softkey(id, KeyTransfer, cat)
		if res.Accepted || !strings.Contains(res.Reason, category(Dir12345To110)) {
			t.Errorf("category %q: %+v (reason must name the valid ones)", cat, res)
		}
	}
	// Reload a list without the category: refused afterwards.
	m, err := config.ParseMatters("test", []byte("direction\tcategory\tsubcategory\tdescription\n12345->110\t测试类\t测试\tx\n110->12345\t测试类\t测试\tx\n"))
	if err != nil {
		t.Fatal(err)
	}
	h.ctl.ReloadMatters(m)
	if res := h.softkey(id, KeyTransfer, category(Dir12345To110)); res.Accepted || !strings.Contains(res.Reason, "测试类/测试") {
		t.Errorf("after reload: %+v", res)
	}
	r := h.rec(id)
	if len(r.Softkeys) != 3 || r.Softkeys[0].Accepted || r.State != StateTalking.String() {
		t.Errorf("refusals must be recorded and change nothing: %+v", r.Softkeys)
	}
}

func TestDTMFSoftkeys(t *testing.T) {
	cat := category(Dir12345To110)
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, func(c *config.ControllerConfig) {
		c.DTMFCategory = map[string]string{string(Dir12345To110): cat}
	})
	id := h.call("12345")
	agent := h.agentChan(id, RoleAgent12345)
	h.f.dtmf("cit-12345", "*1") // the citizen cannot press softkeys
	time.Sleep(50 * time.Millisecond)
	if r := h.rec(id); r.State != StateTalking.String() {
		t.Fatalf("caller DTMF acted: %s", r.State)
	}
	h.f.dtmf(agent, "*3")
	r := h.waitState(id, StateConsultRinging)
	if r.Softkeys[0].Source != SourceDTMF || r.Transfers[0].Category != cat {
		t.Errorf("record %+v", r.Softkeys)
	}
	h.f.dtmf(agent, "*1") // conflicting: refused, agent hears the refusal tone
	eventually(t, "refusal recorded", func() bool { return len(h.rec(id).Softkeys) == 2 })
	if h.rec(id).Softkeys[1].Accepted {
		t.Error("conflicting DTMF softkey accepted")
	}
	h.f.dtmf(agent, "*0")
	h.waitState(id, StateTalking)
	h.callerHangsUpAndAllIsClean(id, "cit-12345")
}

func TestAgentHangupEndsTwoPartyCall(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
	id := h.call("12345")
	h.f.remoteHangup(h.agentChan(id, RoleAgent12345))
	h.waitState(id, StateEnded)
	eventually(t, "clean", func() bool { return h.f.liveChannels() == 0 && h.f.liveBridges() == 0 })
}

func TestSoftkeyUnknownCall(t *testing.T) {
	h := newHarness(t, nil, nil)
	res, err := h.ctl.Softkey(context.Background(), SoftkeyRequest{CallID: "nope", Key: KeyTransfer})
	if err == nil || res.Accepted || res.Reason == "" {
		t.Errorf("got %+v %v", res, err)
	}
	if _, err := h.ctl.Softkey(context.Background(), SoftkeyRequest{CallID: "nope", Key: "bogus"}); err == nil {
		t.Error("unknown key accepted")
	}
}

func TestControllerStopLeavesChannelsUp(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
	h.call("12345")
	h.stop()
	<-h.done
	if h.f.liveChannels() != 2 {
		t.Errorf("stopping the controller must not hang anyone up; %d channels left", h.f.liveChannels())
	}
}

func TestAgentGroupStrategies(t *testing.T) {
	const ep1002 = "Sim/a12345-1002"
	tests := []struct {
		strategy string
		behave   map[string]fbehave
		want     string
	}{
		{"ring-all", map[string]fbehave{ep1001: {kind: "manual"}, ep1002: {kind: "answer"}}, ep1002}, // the still-ringing 1001 is cancelled
		{"round-robin", map[string]fbehave{ep1001: {kind: "busy"}, ep1002: {kind: "answer"}}, ep1002},
		{"round-robin", map[string]fbehave{ep1001: {kind: "answer"}, ep1002: {kind: "unavailable"}}, ep1001},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			h := newHarness(t, tt.behave, func(c *config.ControllerConfig) {
				c.Groups["12345"] = config.GroupConfig{Agents: []string{ep1001, ep1002}, Strategy: tt.strategy, RingTimeout: config.Duration(time.Second)}
			})
			id := h.call("12345")
			if p := h.f.partners("cit-12345"); !slices.Equal(p, []string{tt.want}) {
				t.Errorf("caller with %v, want %s", p, tt.want)
			}
			eventually(t, "only the answering agent left", func() bool { return h.f.liveChannels() == 2 })
			h.callerHangsUpAndAllIsClean(id, "cit-12345")
		})
	}
}

func TestEmergencyRefusedOn110(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep2001: {kind: "answer"}}, nil)
	id := h.call("110")
	if res := h.softkey(id, KeyEmergency, ""); res.Accepted || !strings.Contains(res.Reason, "110") {
		t.Errorf("emergency on a 110 call: %+v", res)
	}
	h.callerHangsUpAndAllIsClean(id, "cit-110")
}

// TestInboundLinkageHeadersOnRecord: the metadata of a call from a configured
// linkage peer (the fake's callers are PJSIP/citizen) reaches the record; the
// same headers from a caller that is not a peer are ignored.
func TestInboundLinkageHeadersOnRecord(t *testing.T) {
	for _, tt := range []struct {
		name  string
		peers []string
		want  bool
	}{
		{"linkage peer", []string{"PJSIP/to12345", "PJSIP/citizen"}, true},
		{"not a peer", []string{"PJSIP/to12345"}, false},
		{"no peers configured", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) { inboundLinkageHeaders(t, tt.peers, tt.want) })
	}
}

func inboundLinkageHeaders(t *testing.T, peers []string, trusted bool) {
	f := newFakePBX()
	f.behave[ep2001] = fbehave{kind: "answer"}
	f.vars["cit-110"] = map[string]string{
		"PJSIP_HEADER(read,X-Linkage-Call-Id)":   "lk-remote-1",
		"PJSIP_HEADER(read,X-Linkage-Category)":  "社会治安类/犬类管理",
		"PJSIP_HEADER(read,X-Linkage-Origin)":    "12345",
		"PJSIP_HEADER(read,User-to-User)":        "47442D323032362D303030313233;encoding=hex",
		"PJSIP_HEADER(read,X-Linkage-Emergency)": "1",
		"PJSIP_HEADER(read,X-Linkage-Flags)":     "涉案",
	}
	cfg := testConfig()
	cfg.LinkagePeers = peers
	ctl, _ := New(f, Options{Config: cfg, Logger: zaptest.NewLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	f.inbound("cit-110", "110", "139")
	var r CallRecord
	eventually(t, "record with headers", func() bool {
		cs := ctl.Calls()
		if len(cs) == 1 && cs[0].State == StateTalking.String() {
			r = cs[0]
			return true
		}
		return false
	})
	if !r.Confidential || r.InboundHeaders[HeaderFlags] != "涉案" {
		t.Errorf("restricting flag not honoured (trusted %v): confidential %v headers %v", trusted, r.Confidential, r.InboundHeaders)
	}
	if !trusted {
		if r.Category != "" || r.Ticket12345 != "" || r.Emergency || len(r.InboundHeaders) != 1 {
			t.Errorf("metadata of a caller that is not a linkage peer reached the record: %+v", r)
		}
		return
	}
	if r.InboundHeaders[HeaderCallID] != "lk-remote-1" || r.Category != "社会治安类/犬类管理" || r.Ticket12345 != "GD-2026-000123" || !r.Emergency {
		t.Errorf("record %+v", r)
	}
	if _, ok := r.InboundHeaders[HeaderTicket]; ok {
		t.Error("absent header (500) must simply be absent")
	}
}

// TestBridgeDestroyedUnderTransfer: the call bridge vanishes while 110 rings; the
// caller still ends with an agent either way.
func TestBridgeDestroyedUnderTransfer(t *testing.T) {
	for _, answer := range []bool{true, false} {
		t.Run(map[bool]string{true: "answered", false: "no answer"}[answer], func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
			id := h.call("12345")
			h.softkey(id, KeyTransfer, category(Dir12345To110))
			h.waitState(id, StateTransferRinging)
			target := h.agentChan(id, RoleAgent110)
			_ = h.f.DestroyBridge(context.Background(), id+"-br")
			want := []string{ep2001}
			if answer {
				h.f.answerLeg(target)
			} else {
				h.f.failLeg(target, 19, "User alerting, no answer", false)
				want = []string{ep1001}
			}
			h.waitState(id, StateTalking)
			eventually(t, "caller with an agent", func() bool { return slices.Equal(h.f.partners("cit-12345"), want) })
			h.callerHangsUpAndAllIsClean(id, "cit-12345")
		})
	}
}

// TestCallerHangsUpRightAfterSoftkey: the caller leaves within milliseconds of the press.
func TestCallerHangsUpRightAfterSoftkey(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "answer", delay: 50 * time.Millisecond}}, nil)
	id := h.call("12345")
	go h.f.remoteHangup("cit-12345")
	_, _ = h.ctl.Softkey(context.Background(), SoftkeyRequest{CallID: id, Key: KeyTransfer, Category: category(Dir12345To110)})
	h.waitState(id, StateEnded)
	eventually(t, "no channel or bridge left", func() bool { return h.f.liveChannels() == 0 && h.f.liveBridges() == 0 })
}

func TestLateAnswerOfAnEndedCallIsHungUp(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.f.mu.Lock()
	h.f.chans["late-1"] = &fchan{id: "late-1", endpoint: ep2001, originated: true, playing: map[string]bool{}}
	h.f.mu.Unlock()
	h.f.answerLeg("late-1")
	eventually(t, "orphan leg hung up", func() bool { return h.f.liveChannels() == 0 })
}

func TestRetryAfterFailedTransferActs(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "busy"}}, nil)
	id := h.call("12345")
	cat := category(Dir12345To110)
	h.softkey(id, KeyTransfer, cat)
	eventually(t, "busy", func() bool { r := h.rec(id); return r.Transfers[0].Outcome == OutcomeBusy })
	h.waitState(id, StateTalking)
	h.f.mu.Lock()
	h.f.behave[ep2001] = fbehave{kind: "answer"}
	h.f.mu.Unlock()
	res := h.softkey(id, KeyTransfer, cat)
	if !res.Accepted || res.Duplicate {
		t.Fatalf("retry: %+v", res)
	}
	eventually(t, "retry completed", func() bool { return slices.Equal(h.f.partners("cit-12345"), []string{ep2001}) })
	h.callerHangsUpAndAllIsClean(id, "cit-12345")
}

func TestDoubleCancelActsOnce(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}, ep2001: {kind: "manual"}}, nil)
	id := h.call("12345")
	h.softkey(id, KeyTransfer, category(Dir12345To110))
	a, b := h.softkey(id, KeyCancel, ""), h.softkey(id, KeyCancel, "")
	if !a.Accepted || a.Duplicate || !b.Accepted || !b.Duplicate {
		t.Errorf("cancel twice: %+v %+v", a, b)
	}
	h.callerHangsUpAndAllIsClean(id, "cit-12345")
}
