package scenario

import (
	"slices"
	"strings"
	"time"

	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/callflow"
)

// oneKeyAnswered: the 12345 agent presses *1 on the phone; the caller hears the
// announcement then hold music; 110 answers and takes the caller.
func oneKeyAnswered(s *Step) {
	target := s.manual(Agent110)
	c, id := s.dial("12345", Agent12345)
	s.lastCall(Agent12345).SendDTMF("*1")
	leg := s.incoming(target, Agent110)
	r := s.waitState(id, callflow.StateTransferRinging)
	s.bridged(c, "while 110 rings")
	s.hears(c, "while 110 rings", engine.HearPlayback, engine.HearMOH)
	hs := map[string]string{}
	for _, h := range leg.Options.Headers {
		hs[h.Name] = h.Value
	}
	cat := s.transfer(r, 0).Category
	if hs[callflow.HeaderCallID] != id || hs[callflow.HeaderCategory] != cat || hs[callflow.HeaderOrigin] != "12345" || hs[callflow.HeaderAgent] != Agent12345 || hs[callflow.HeaderMode] != "one-key" {
		s.Errorf("110 leg headers %v (want call id %s, category %s)", hs, id, cat)
	} else {
		s.Notef("110 phone got headers: %s=%s %s=%s", callflow.HeaderCallID, id, callflow.HeaderCategory, cat)
	}
	s.hears(c, "announcement done, 110 still ringing", engine.HearMOH)
	s.heardPlayback(c, "sound:transfer-110")
	leg.Answer()
	s.bridged(c, "110 answered", Agent110)
	r = s.waitState(id, callflow.StateTalking)
	t := s.transfer(r, 0)
	if t.Outcome != callflow.OutcomeCompleted || t.Direction != callflow.Dir12345To110 || t.Answered == nil || r.OwnerPlatform != callflow.Platform110 || r.Softkeys[0].Source != callflow.SourceDTMF {
		s.Errorf("record after transfer: %+v owner %s", t, r.OwnerPlatform)
	}
	s.eventually("first agent released", func() bool { return s.lastCall(Agent12345).State() == sim.CallEnded })
	r = s.hangupAndCheck(c, id)
	if r.Outcome != string(callflow.OutcomeCompleted) {
		s.Errorf("call outcome %q", r.Outcome)
	}
}

// oneKeyNoAnswer: 110 does not answer; the caller goes back to the first agent, who is told why.
func oneKeyNoAnswer(s *Step) {
	s.script(Agent110, sim.Script{Behavior: sim.NoAnswer})
	c, id := s.dial("12345", Agent12345)
	if res := s.softkey(id, callflow.KeyTransfer, s.category(callflow.Dir12345To110)); !res.Accepted {
		s.Fatalf("transfer refused: %s", res.Reason)
	}
	s.waitState(id, callflow.StateTransferRinging)
	s.hears(c, "while 110 rings", engine.HearPlayback, engine.HearMOH)
	s.eventually("transfer gave up", func() bool {
		r := s.record(id)
		return len(r.Transfers) == 1 && r.Transfers[0].Outcome != callflow.OutcomePending
	})
	s.bridged(c, "back with the first agent", Agent12345)
	r := s.record(id)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeNoAnswer || !strings.Contains(t.Reason, "无人接听") {
		s.Errorf("transfer %+v", t)
	}
	agent := s.lastCall(Agent12345)
	s.eventually("first agent told", func() bool {
		_, log, _ := s.env.Switch.Engine.Hearing(agent.ChannelID())
		return slices.ContainsFunc(log, func(x engine.HearingChange) bool { return x.Kind == engine.HearPlayback })
	})
	s.Notef("first agent heard the failure notice")
	s.hangupAndCheck(c, id)
}

func oneKey110To12345(s *Step) {
	c, id := s.dial("110", Agent110)
	cat := s.category(callflow.Dir110To12345)
	if res := s.softkey(id, callflow.KeyTransfer, cat); !res.Accepted {
		s.Fatalf("transfer refused: %s", res.Reason)
	}
	s.bridged(c, "12345 answered", Agent12345)
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCompleted || t.Direction != callflow.Dir110To12345 || r.OwnerPlatform != callflow.Platform12345 || r.Ticket110 != "GD-2026-000123" {
		s.Errorf("record %+v owner %s", t, r.OwnerPlatform)
	}
	s.hangupAndCheck(c, id)
}

func threeWay(s *Step, resolve callflow.Key) {
	target := s.manual(Agent110)
	c, id := s.dial("12345", Agent12345)
	if res := s.softkey(id, callflow.KeyThreeWay, s.category(callflow.Dir12345To110)); !res.Accepted {
		s.Fatalf("three-way refused: %s", res.Reason)
	}
	leg := s.incoming(target, Agent110)
	s.waitState(id, callflow.StateConsultRinging)
	s.bridged(c, "while 110 rings the caller keeps the first agent", Agent12345)
	leg.Answer()
	s.bridged(c, "three-way", Agent12345, Agent110)
	s.waitState(id, callflow.StateThreeWay)
	if res := s.softkey(id, resolve, ""); !res.Accepted {
		s.Fatalf("%s refused: %s", resolve, res.Reason)
	}
	keeper, outcome, owner := Agent12345, callflow.OutcomeKept, callflow.Platform12345
	switch resolve {
	case callflow.KeyHandOver:
		keeper, outcome, owner = Agent110, callflow.OutcomeHandedOver, callflow.Platform110
	case callflow.KeyUndetermined:
		outcome = callflow.OutcomeUndetermined // first-receiving platform (12345) keeps it
	}
	s.bridged(c, string(resolve), keeper)
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != outcome || t.Mode != callflow.ModeThreeWay || r.OwnerPlatform != owner {
		s.Errorf("record %+v owner %s", t, r.OwnerPlatform)
	}
	s.hangupAndCheck(c, id)
}

// emergency: the first agent stays on until 110 answers.
func emergency(s *Step) {
	target := s.manual(Emergency)
	c, id := s.dial("12345", Agent12345)
	if res := s.softkey(id, callflow.KeyEmergency, ""); !res.Accepted {
		s.Fatalf("emergency refused: %s", res.Reason)
	}
	leg := s.incoming(target, Emergency)
	s.waitState(id, callflow.StateEmergencyRinging)
	s.bridged(c, "while 110 rings the first agent stays on", Agent12345)
	leg.Answer()
	s.bridged(c, "110 answered", Emergency)
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCompleted || t.Mode != callflow.ModeEmergency || !r.Emergency || t.Category != "" {
		s.Errorf("record %+v", t)
	}
	s.hangupAndCheck(c, id)
}

// callerHangsUpWhileRinging: no orphan ringing at 110.
func callerHangsUpWhileRinging(s *Step) {
	target := s.manual(Agent110)
	c, id := s.dial("12345", Agent12345)
	s.softkey(id, callflow.KeyTransfer, s.category(callflow.Dir12345To110))
	leg := s.incoming(target, Agent110)
	s.waitState(id, callflow.StateTransferRinging)
	time.Sleep(100 * time.Millisecond)
	r := s.hangupAndCheck(c, id)
	if leg.State() != sim.CallEnded {
		s.Errorf("110 phone still %s after the caller left", leg.State())
	}
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCallerGone {
		s.Errorf("transfer outcome %s", t.Outcome)
	}
}

// doublePress: the second press acts not; a conflicting key is refused with a reason.
func doublePress(s *Step) {
	target := s.manual(Agent110)
	c, id := s.dial("12345", Agent12345)
	cat := s.category(callflow.Dir12345To110)
	a := s.softkey(id, callflow.KeyTransfer, cat)
	b := s.softkey(id, callflow.KeyTransfer, cat)
	if !a.Accepted || !b.Duplicate || a.TransferID != b.TransferID {
		s.Errorf("double press: %+v then %+v", a, b)
	}
	leg := s.incoming(target, Agent110)
	select {
	case extra := <-target:
		s.Errorf("second 110 leg rang: %s", extra.ChannelID())
	case <-time.After(200 * time.Millisecond):
	}
	if r := s.softkey(id, callflow.KeyThreeWay, cat); r.Accepted || r.Reason == "" {
		s.Errorf("conflicting three-way accepted: %+v", r)
	} else {
		s.Notef("conflicting softkey refused: %s", r.Reason)
	}
	leg.Answer()
	s.bridged(c, "110 answered", Agent110)
	r := s.waitState(id, callflow.StateTalking)
	if len(r.Transfers) != 1 {
		s.Errorf("%d transfers recorded, want 1", len(r.Transfers))
	}
	s.hangupAndCheck(c, id)
}

// phoneTransferKey: the agent uses the phone's own transfer key (REFER); the
// controller turns the ChannelTransfer event into a one-key transfer and reports
// progress back with transfer_progress.
func phoneTransferKey(s *Step) {
	c, id := s.dial("12345", Agent12345)
	agent := s.lastCall(Agent12345)
	agent.Refer("110")
	s.bridged(c, "110 answered", Agent110)
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCompleted || r.Softkeys[0].Source != callflow.SourceRefer {
		s.Errorf("record %+v softkeys %+v", t, r.Softkeys)
	}
	s.eventually("phone told progress and answer", func() bool {
		st := agent.TransferStates()
		return slices.Contains(st, "channel_progress") && slices.Contains(st, "channel_answered")
	})
	s.Notef("agent phone transfer states: %v", agent.TransferStates())
	s.hangupAndCheck(c, id)
}

// RestartDuringTransfer: linkctl dies while 110 rings; the restarted controller finds
// the call from the channel stamps, cancels the ringing leg and gives the caller back
// to the first agent. Not part of the demo list (it restarts the controller).
func RestartDuringTransfer() Scenario {
	return Scenario{"restart while 110 rings -> caller back with first agent", restartDuringTransfer}
}

func restartDuringTransfer(s *Step) {
	target := s.manual(Agent110)
	c, id := s.dial("12345", Agent12345)
	if res := s.softkey(id, callflow.KeyTransfer, s.category(callflow.Dir12345To110)); !res.Accepted {
		s.Fatalf("transfer refused: %s", res.Reason)
	}
	leg := s.incoming(target, Agent110)
	s.waitState(id, callflow.StateTransferRinging)
	if err := s.env.RestartController(s.ctx); err != nil {
		s.Fatalf("restart: %v", err)
	}
	s.bridged(c, "after restart", Agent12345)
	s.eventually("ringing 110 leg cancelled", func() bool { return leg.State() == sim.CallEnded })
	r := s.waitState(id, callflow.StateTalking)
	if r.OwnerPlatform != callflow.Platform12345 {
		s.Errorf("owner %s", r.OwnerPlatform)
	}
	s.hangupAndCheck(c, id)
}
