package sipdemo

import (
	"slices"
	"strings"
	"time"

	"linkctl/callflow"
)

// All returns the SIP demo scenarios, in the order of the Sim demo.
func All() []Scenario {
	return []Scenario{
		{"one-key 12345->110 answered (*1 DTMF)", oneKeyAnswered},
		{"one-key no answer -> back to first agent", oneKeyNoAnswer},
		{"one-key 110->12345 (API, ticket)", oneKey110To12345},
		{"three-way then hand over (*3, *4)", func(s *Step) { threeWay(s, callflow.KeyHandOver, true) }},
		{"three-way then keep (*3, *5)", func(s *Step) { threeWay(s, callflow.KeyKeep, true) }},
		{"three-way undetermined (API, ticket)", func(s *Step) { threeWay(s, callflow.KeyUndetermined, false) }},
		{"emergency to 110 (*9)", emergency},
		{"caller hangs up while 110 rings", callerHangsUpWhileRinging},
		{"double press (API + phone)", doublePress},
		{"phone transfer key (REFER, ari-only)", phoneTransferKey},
	}
}

// linkageHeaders are the X-Linkage-* headers a transfer leg's INVITE must carry.
func linkageHeaders(id, origin, agent string, mode callflow.TransferMode, category string, emergency bool) map[string]string {
	em := "0"
	if emergency {
		em = "1"
	}
	h := map[string]string{
		callflow.HeaderCallID:    id,
		callflow.HeaderOrigin:    origin,
		callflow.HeaderAgent:     agent,
		callflow.HeaderMode:      string(mode),
		callflow.HeaderEmergency: em,
	}
	if category != "" {
		h[callflow.HeaderCategory] = category
	}
	return h
}

// withTicket adds the ticket headers a softkey pressed with a ticket id brings.
func withTicket(h map[string]string) map[string]string {
	h[callflow.HeaderTicket] = demoTicket
	h[callflow.HeaderUUI] = callflow.EncodeUUI(demoTicket)
	return h
}

// oneKeyAnswered: the 12345 agent presses *1 on the phone; the citizen hears the
// announcement then MOH, never silence; 110 answers and takes the citizen, who
// then hears the 110 agent and no longer the 12345 agent.
func oneKeyAnswered(s *Step) {
	s.env.Agent(Agent110).Set(Manual)
	c, id, first := s.dial("12345", Agent12345)
	pressed := time.Now()
	s.dtmf(Agent12345, first, s.env.Config.Controller.Softkeys.Transfer)
	in := s.offer(Agent110)
	s.checkHeaders(Agent110, in.Headers(), linkageHeaders(id, "12345", Agent12345, callflow.ModeOneKey, s.category(callflow.Dir12345To110), false))
	s.waitState(id, callflow.StateTransferRinging)
	time.Sleep(2500 * time.Millisecond) // announcement, then MOH while 110 rings
	if tl := c.Heard().Between(pressed.Add(500*time.Millisecond), time.Now()); tl.Heard(Tone12345) || tl.Heard(Tone110) {
		s.Errorf("while 110 rang the citizen heard an agent: %s", tl)
	}
	s.audible(c, "announcement (正在为您转接110) then hold music", pressed.Add(300*time.Millisecond), time.Now())
	b := s.answer(Agent110, in)
	s.waitHear("citizen", c, Tone110)
	s.neverSilent(c, "transfer until 110 answered", pressed, time.Now())
	s.ended(Agent12345, first)
	s.listen("after hand-over",
		party{"citizen", c, []float64{Tone110}, []float64{Tone12345, ToneCitizen}},
		party{Agent110, b, []float64{ToneCitizen}, []float64{Tone12345, Tone110}})
	r := s.waitState(id, callflow.StateTalking)
	t := s.transfer(r, 0)
	if t.Outcome != callflow.OutcomeCompleted || t.Direction != callflow.Dir12345To110 || t.Answered == nil ||
		r.OwnerPlatform != callflow.Platform110 || len(r.Softkeys) == 0 || r.Softkeys[0].Source != callflow.SourceDTMF {
		s.Errorf("record after transfer: %+v owner %s softkeys %+v", t, r.OwnerPlatform, r.Softkeys)
	}
	r = s.hangup(c, id, b)
	if r.Outcome != string(callflow.OutcomeCompleted) || len(r.Legs) != 3 {
		s.Errorf("call outcome %q with %d legs (want completed, 3 legs)", r.Outcome, len(r.Legs))
	}
}

// oneKeyNoAnswer: 110 rings out; the citizen goes back to the first agent, who
// hears the failure notice.
func oneKeyNoAnswer(s *Step) {
	s.env.Agent(Agent110).Set(RingOnly)
	c, id, first := s.dial("12345", Agent12345)
	pressed := time.Now()
	s.dtmf(Agent12345, first, s.env.Config.Controller.Softkeys.Transfer)
	s.waitState(id, callflow.StateTransferRinging)
	var settled time.Time
	s.eventually("transfer gave up", s.env.Config.Controller.TransferRingTimeout.D()+5*time.Second, func() bool {
		r, _ := s.env.Controller.Call(id)
		if len(r.Transfers) == 1 && r.Transfers[0].Outcome != callflow.OutcomePending {
			settled = time.Now()
			return true
		}
		return false
	})
	s.waitHear("citizen back with the first agent", c, Tone12345)
	s.neverSilent(c, "transfer until back with the first agent", pressed, time.Now())
	s.listen("back with the first agent",
		party{"citizen", c, []float64{Tone12345}, []float64{Tone110, ToneCitizen}})
	// the failure notice (about 1.25 s) is played to the first agent, who then hears the citizen again
	time.Sleep(time.Until(settled.Add(1500 * time.Millisecond)))
	s.listen("after the failure notice",
		party{Agent12345, first, []float64{ToneCitizen}, []float64{Tone12345, Tone110}})
	if !first.Heard().Since(settled.Add(-time.Second)).Heard(ToneFailure) {
		s.Errorf("first agent did not hear the failure notice (%v Hz): %s", ToneFailure, first.Heard())
	} else {
		s.Notef("first agent heard the failure notice (%v Hz)", ToneFailure)
	}
	r := s.record(id)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeNoAnswer || !strings.Contains(t.Reason, "无人接听") || r.OwnerPlatform != callflow.Platform12345 {
		s.Errorf("transfer %+v owner %s", t, r.OwnerPlatform)
	}
	if n := len(s.env.Agent(Agent110).Invites()); n != 1 {
		s.Errorf("110 phone was offered %d calls, want 1", n)
	}
	s.hangup(c, id, first)
}

// oneKey110To12345: a citizen of 110 is transferred to 12345 from the API with the
// 110 ticket, which travels in X-Linkage-Ticket and User-to-User.
func oneKey110To12345(s *Step) {
	s.env.Agent(Agent12345).Set(Manual)
	c, id, first := s.dial("110", Agent110)
	cat := s.category(callflow.Dir110To12345)
	if res := s.softkey(id, callflow.KeyTransfer, cat); !res.Accepted {
		s.Fatalf("transfer refused: %s", res.Reason)
	}
	in := s.offer(Agent12345)
	s.checkHeaders(Agent12345, in.Headers(), withTicket(linkageHeaders(id, "110", Agent110, callflow.ModeOneKey, cat, false)))
	b := s.answer(Agent12345, in)
	s.waitHear("citizen", c, Tone12345)
	s.ended(Agent110, first)
	s.listen("after hand-over",
		party{"citizen", c, []float64{Tone12345}, []float64{Tone110, ToneCitizen}},
		party{Agent12345, b, []float64{ToneCitizen}, []float64{Tone110, Tone12345}})
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCompleted || t.Direction != callflow.Dir110To12345 ||
		r.OwnerPlatform != callflow.Platform12345 || r.Ticket110 != demoTicket {
		s.Errorf("record %+v owner %s ticket110 %q", t, r.OwnerPlatform, r.Ticket110)
	}
	s.hangup(c, id, b)
}

// threeWay: the first agent starts a three-way call (*3 or the API); each party
// hears the other two and not itself; then hand-over, keep or undetermined.
func threeWay(s *Step, resolve callflow.Key, viaPhone bool) {
	s.env.Agent(Agent110).Set(Manual)
	c, id, first := s.dial("12345", Agent12345)
	cat := s.category(callflow.Dir12345To110)
	keys := s.env.Config.Controller.Softkeys
	want := linkageHeaders(id, "12345", Agent12345, callflow.ModeThreeWay, cat, false)
	if viaPhone {
		s.dtmf(Agent12345, first, keys.ThreeWay)
	} else {
		if res := s.softkey(id, callflow.KeyThreeWay, cat); !res.Accepted {
			s.Fatalf("three-way refused: %s", res.Reason)
		}
		want = withTicket(want)
	}
	in := s.offer(Agent110)
	s.checkHeaders(Agent110, in.Headers(), want)
	s.waitState(id, callflow.StateConsultRinging)
	s.listen("while 110 rings the citizen keeps the first agent",
		party{"citizen", c, []float64{Tone12345}, []float64{Tone110, ToneCitizen}})
	b := s.answer(Agent110, in)
	s.waitState(id, callflow.StateThreeWay)
	s.waitHear("citizen", c, Tone110)
	s.listen("three-way",
		party{"citizen", c, []float64{Tone12345, Tone110}, []float64{ToneCitizen}},
		party{Agent12345, first, []float64{ToneCitizen, Tone110}, []float64{Tone12345}},
		party{Agent110, b, []float64{ToneCitizen, Tone12345}, []float64{Tone110}})

	code := map[callflow.Key]string{callflow.KeyHandOver: keys.HandOver, callflow.KeyKeep: keys.Keep, callflow.KeyUndetermined: keys.Undetermined}[resolve]
	if viaPhone {
		s.dtmf(Agent12345, first, code)
	} else if res := s.softkey(id, resolve, ""); !res.Accepted {
		s.Fatalf("%s refused: %s", resolve, res.Reason)
	}
	keeper, keeperCall, keeperTone, leaver, leaverCall, leaverTone := Agent12345, first, Tone12345, Agent110, b, Tone110
	outcome, owner := callflow.OutcomeKept, callflow.Platform12345
	switch resolve {
	case callflow.KeyHandOver:
		keeper, keeperCall, keeperTone, leaver, leaverCall, leaverTone = Agent110, b, Tone110, Agent12345, first, Tone12345
		outcome, owner = callflow.OutcomeHandedOver, callflow.Platform110
	case callflow.KeyUndetermined:
		outcome = callflow.OutcomeUndetermined // the first-receiving platform (12345) keeps it
	}
	s.ended(leaver, leaverCall)
	s.listen(string(resolve),
		party{"citizen", c, []float64{keeperTone}, []float64{leaverTone, ToneCitizen}},
		party{keeper, keeperCall, []float64{ToneCitizen}, []float64{leaverTone, keeperTone}})
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != outcome || t.Mode != callflow.ModeThreeWay || r.OwnerPlatform != owner {
		s.Errorf("record %+v owner %s", t, r.OwnerPlatform)
	}
	s.hangup(c, id, keeperCall)
}

// emergency: *9; the first agent stays on with the citizen until 110 answers.
func emergency(s *Step) {
	s.env.Agent(Emergency).Set(Manual)
	c, id, first := s.dial("12345", Agent12345)
	s.dtmf(Agent12345, first, s.env.Config.Controller.Softkeys.Emergency)
	in := s.offer(Emergency)
	s.checkHeaders(Emergency, in.Headers(), linkageHeaders(id, "12345", Agent12345, callflow.ModeEmergency, "", true))
	s.waitState(id, callflow.StateEmergencyRinging)
	s.listen("while 110 rings the first agent stays on",
		party{"citizen", c, []float64{Tone12345}, []float64{ToneEmergency, ToneCitizen}})
	b := s.answer(Emergency, in)
	s.waitHear("citizen", c, ToneEmergency)
	s.ended(Agent12345, first)
	s.listen("110 answered",
		party{"citizen", c, []float64{ToneEmergency}, []float64{Tone12345, ToneCitizen}},
		party{Emergency, b, []float64{ToneCitizen}, []float64{Tone12345, ToneEmergency}})
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCompleted || t.Mode != callflow.ModeEmergency || !r.Emergency || t.Category != "" {
		s.Errorf("record %+v emergency %v", t, r.Emergency)
	}
	s.hangup(c, id, b)
}

// callerHangsUpWhileRinging: the ringing 110 phone is cancelled, nothing is left.
func callerHangsUpWhileRinging(s *Step) {
	s.env.Agent(Agent110).Set(Manual)
	c, id, first := s.dial("12345", Agent12345)
	s.dtmf(Agent12345, first, s.env.Config.Controller.Softkeys.Transfer)
	in := s.offer(Agent110)
	s.waitState(id, callflow.StateTransferRinging)
	time.Sleep(300 * time.Millisecond)
	r := s.hangup(c, id, first)
	select {
	case <-in.Cancelled():
		s.Notef("the ringing 110 phone was cancelled (CANCEL)")
	case <-time.After(5 * time.Second):
		s.Errorf("110 phone still ringing after the citizen left")
	}
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCallerGone {
		s.Errorf("transfer outcome %s, want %s", t.Outcome, callflow.OutcomeCallerGone)
	}
}

// doublePress: the transfer key pressed on the web page and again on the phone
// acts once; a conflicting key is refused with a reason.
func doublePress(s *Step) {
	s.env.Agent(Agent110).Set(Manual)
	c, id, first := s.dial("12345", Agent12345)
	cat := s.category(callflow.Dir12345To110)
	a := s.softkey(id, callflow.KeyTransfer, cat)
	b := s.softkey(id, callflow.KeyTransfer, cat)
	if !a.Accepted || !b.Duplicate || a.TransferID != b.TransferID {
		s.Errorf("double press: %+v then %+v", a, b)
	}
	s.dtmf(Agent12345, first, s.env.Config.Controller.Softkeys.Transfer)
	in := s.offer(Agent110)
	time.Sleep(700 * time.Millisecond)
	if n := len(s.env.Agent(Agent110).Invites()); n != 1 {
		s.Errorf("110 phone was offered %d calls, want 1", n)
	}
	if r := s.softkey(id, callflow.KeyThreeWay, cat); r.Accepted || r.Reason == "" {
		s.Errorf("conflicting three-way accepted: %+v", r)
	} else {
		s.Notef("conflicting softkey refused: %s", r.Reason)
	}
	b110 := s.answer(Agent110, in)
	s.waitHear("citizen", c, Tone110)
	r := s.waitState(id, callflow.StateTalking)
	if len(r.Transfers) != 1 || r.Transfers[0].Outcome != callflow.OutcomeCompleted {
		s.Errorf("transfers %+v, want one completed", r.Transfers)
	}
	s.hangup(c, id, b110)
}

// phoneTransferKey: the agent uses the phone's own transfer key (REFER to 110);
// the controller makes it a one-key transfer and reports progress in NOTIFYs.
func phoneTransferKey(s *Step) {
	c, id, first := s.dial("12345", Agent12345)
	if err := first.Refer("110"); err != nil {
		s.Fatalf("REFER: %v", err)
	}
	s.Notef("%s pressed the phone's transfer key (REFER to 110)", Agent12345)
	s.waitHear("citizen", c, Tone110)
	s.eventually("NOTIFY sipfrag 200 to the transferring phone", 5*time.Second, func() bool {
		return slices.ContainsFunc(first.Notifies(), func(n string) bool { return strings.HasPrefix(n, "SIP/2.0 200") })
	})
	s.Notef("transferring phone got NOTIFYs %q", first.Notifies())
	b := s.env.Agent(Agent110).LastCall()
	if b == nil {
		s.Fatalf("110 phone has no call")
	}
	s.listen("after REFER",
		party{"citizen", c, []float64{Tone110}, []float64{Tone12345, ToneCitizen}})
	r := s.waitState(id, callflow.StateTalking)
	if t := s.transfer(r, 0); t.Outcome != callflow.OutcomeCompleted || len(r.Softkeys) == 0 || r.Softkeys[0].Source != callflow.SourceRefer {
		s.Errorf("record %+v softkeys %+v", t, r.Softkeys)
	}
	s.hangup(c, id, b)
}
