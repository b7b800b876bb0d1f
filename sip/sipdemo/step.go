package sipdemo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"linkctl/callflow"
	"linkctl/callflow/scenario"
	"linkctl/sip/media"
	"linkctl/sip/phone"
)

// Scenario is one demo call over SIP.
type Scenario struct {
	Name string
	run  func(s *Step)
}

// Step is a running scenario: the checks it makes and what it found.
type Step struct {
	scenario.Checks
	ctx     context.Context
	env     *Env
	callIDs []string
}

// Run runs one scenario on env; afterwards every phone call must be over and the
// switch empty. The result has the scenario package's shape, for scenario.Print.
func Run(ctx context.Context, env *Env, sc Scenario) scenario.Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	s := &Step{ctx: ctx, env: env}
	for _, a := range env.agents {
		a.Set(Answer)
	}
	s.Guard(func() { sc.run(s) })
	s.cleanUp()
	res := s.Result(sc.Name)
	for _, id := range s.callIDs {
		if r, ok := env.Controller.Call(id); ok {
			res.Records = append(res.Records, r)
		}
	}
	res.Took = time.Since(start)
	return res
}

// cleanUp ends whatever a failed scenario left behind and checks the switch is empty.
func (s *Step) cleanUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	phones := []*phone.Phone{s.env.Citizen}
	for _, a := range s.env.agents {
		phones = append(phones, a.Phone)
	}
	left := 0
	for _, p := range phones {
		for _, c := range p.Calls() {
			left++
			_ = c.Hangup(ctx)
		}
	}
	if left > 0 && !s.Failed() {
		s.Errorf("%d phone call(s) still up after the scenario", left)
	}
	s.SwitchIsEmpty(s.env.PBX)
}

// --- building blocks ---

func (s *Step) eventually(what string, within time.Duration, cond func() bool) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && s.ctx.Err() == nil {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Fatalf("timed out: %s", what)
}

// dial: the citizen calls entry; the first agent's phone answers (Answer
// behaviour). It returns the citizen's call, the controller's call id and the
// agent's call, once both hear each other.
func (s *Step) dial(entry, firstAgent string) (*phone.Call, string, *phone.Call) {
	known := map[string]bool{}
	for _, r := range s.env.Controller.Calls() {
		known[r.ID] = true
	}
	c, err := s.env.Citizen.Call(s.ctx, entry)
	if err != nil {
		s.Fatalf("citizen call to %s: %v", entry, err)
	}
	var id string
	s.eventually("controller has the call", 5*time.Second, func() bool {
		for _, r := range s.env.Controller.Calls() {
			if !known[r.ID] && r.State != callflow.StateEnded.String() {
				id = r.ID
				return true
			}
		}
		return false
	})
	s.callIDs = append(s.callIDs, id)
	a := s.env.Agent(firstAgent)
	s.eventually(firstAgent+" answers", 8*time.Second, func() bool { return a.LastCall() != nil })
	ac := a.LastCall()
	s.waitHear("citizen", c, toneOf(firstAgent))
	s.waitHear(firstAgent, ac, ToneCitizen)
	s.Notef("citizen (%v Hz) and %s (%v Hz) hear each other", ToneCitizen, firstAgent, toneOf(firstAgent))
	return c, id, ac
}

func toneOf(user string) float64 {
	switch user {
	case Agent12345:
		return Tone12345
	case Agent110:
		return Tone110
	case Emergency:
		return ToneEmergency
	}
	return ToneCitizen
}

func (s *Step) waitHear(who string, c *phone.Call, freq float64) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := c.WaitHear(ctx, freq); err != nil {
		s.Fatalf("%s never heard %v Hz: %s", who, freq, c.Heard())
	}
}

// party is one phone call whose hearing a check looks at.
type party struct {
	who  string
	call *phone.Call
	hear []float64 // must be heard for at least 300 ms of the window
	not  []float64 // must not be heard at all in the window
}

// listen lets audio flow for a while, then checks every party's hearing over
// the window (from 300 ms in, so the change that led here has settled).
func (s *Step) listen(what string, parties ...party) {
	mark := time.Now().Add(300 * time.Millisecond)
	select {
	case <-time.After(1500 * time.Millisecond):
	case <-s.ctx.Done():
		s.Fatalf("%s: %v", what, s.ctx.Err())
	}
	for _, p := range parties {
		tl := p.call.Heard().Since(mark)
		ok := true
		for _, f := range p.hear {
			if tl.Duration(f) < 300*time.Millisecond {
				s.Errorf("%s: %s should hear %v Hz: %s", what, p.who, f, tl)
				ok = false
			}
		}
		for _, f := range p.not {
			if tl.Heard(f) {
				s.Errorf("%s: %s should not hear %v Hz: %s", what, p.who, f, tl)
				ok = false
			}
		}
		if ok {
			s.Notef("%s: %s hears %v, not %v", what, p.who, p.hear, p.not)
		}
	}
}

// neverSilent checks the citizen was never left in silence longer than 1 s
// between from and to (announcement, ringback/MOH, the other agent).
func (s *Step) neverSilent(c *phone.Call, what string, from, to time.Time) {
	tl := c.Heard().Between(from, to)
	longest := tl.LongestSilence()
	if longest > time.Second {
		s.Errorf("%s: citizen left in silence for %v: %s", what, longest, tl)
		return
	}
	s.Notef("%s: longest silence %v over %.1fs (%s)", what, longest, to.Sub(from).Seconds(), tl)
}

// audible checks the citizen heard sound (not silence) for at least 80 % of
// [from, to): the spoken announcement and the hold music carry no tone of their own.
func (s *Step) audible(c *phone.Call, what string, from, to time.Time) {
	var sound time.Duration
	for _, seg := range c.Heard().Between(from, to) {
		if !seg.Silent {
			sound += seg.End.Sub(seg.Start)
		}
	}
	if span := to.Sub(from); sound*5 < span*4 {
		s.Errorf("%s: the citizen heard sound for only %v of %v", what, sound.Round(time.Millisecond), span.Round(time.Millisecond))
		return
	}
	s.Notef("%s: the citizen heard sound for %v of %v", what, sound.Round(time.Millisecond), to.Sub(from).Round(time.Millisecond))
}

func (s *Step) record(id string) callflow.CallRecord {
	r, ok := s.env.Controller.Call(id)
	if !ok {
		s.Fatalf("no record for call %s", id)
	}
	return r
}

func (s *Step) waitState(id string, st callflow.CallState) callflow.CallRecord {
	s.eventually("call state "+st.String(), 8*time.Second, func() bool {
		r, _ := s.env.Controller.Call(id)
		return r.State == st.String()
	})
	return s.record(id)
}

// softkey presses a key over the controller's softkey API (as the agent's web
// page does), with a ticket id.
func (s *Step) softkey(id string, key callflow.Key, category string) callflow.SoftkeyResult {
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
	defer cancel()
	res, err := s.env.Controller.Softkey(ctx, callflow.SoftkeyRequest{CallID: id, Key: key, Category: category,
		TicketID: demoTicket, Source: callflow.SourceHTTP})
	if err != nil {
		s.Fatalf("softkey %s: %v", key, err)
	}
	return res
}

// interDigit is the pause between the digits of a feature code, as the
// phone's own SendDTMF spaces them (RFC 4733 events 60 ms apart).
const interDigit = 60 * time.Millisecond

// endedGrace bounds how long dtmf waits for the presser's call to end after
// its last digit failed on a closed RTP session.
const endedGrace = 2 * time.Second

// dtmf presses a feature code on an agent's phone (RFC 4733 telephone-events).
// The switch acts on a code as soon as it has its last digit; when that ends
// the presser's own call (*4 hand-over, *1 transfer completion releasing the
// first agent) the phone may still be sending the digit's end packets and its
// RTP session closes under it. That is the wanted outcome, not a failure:
// sendCode accepts it only for the last digit and only once the call ended.
func (s *Step) dtmf(who string, c *phone.Call, code string) {
	cut, err := sendCode(c, code)
	if err != nil {
		s.Fatalf("%s sends %s: %v", who, code, err)
	}
	s.Notef("%s pressed %s on the phone (RFC 4733)", who, code)
	if cut {
		s.Notef("%s's call ended while it still sent the end packets of %s (the switch acted on the digit)", who, code)
	}
}

// sendCode sends code digit by digit; see Step.dtmf for the one error it
// forgives, reported by cut.
func sendCode(c *phone.Call, code string) (cut bool, err error) {
	digits := []rune(code)
	for i, d := range digits {
		if i > 0 {
			time.Sleep(interDigit)
		}
		err := c.SendDTMF(string(d))
		if err == nil {
			continue
		}
		if last := i == len(digits)-1; last && errors.Is(err, media.ErrSessionClosed) && endedWithin(c, endedGrace) {
			return true, nil // the code took effect and ended this call while its end packets were going out
		}
		return false, fmt.Errorf("digit %d of %q: %w", i+1, code, err)
	}
	return false, nil
}

// endedWithin reports whether c's call ends within d.
func endedWithin(c *phone.Call, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.Done():
		return true
	case <-t.C:
		return false
	}
}

func (s *Step) category(dir callflow.Direction) string {
	return s.env.Controller.Matters().Names(string(dir))[0]
}

// offer waits for a call offered to a Manual agent.
func (s *Step) offer(user string) *phone.Incoming {
	select {
	case in := <-s.env.Agent(user).offers:
		return in
	case <-time.After(8 * time.Second):
		s.Fatalf("%s was never called", user)
	case <-s.ctx.Done():
		s.Fatalf("%s: %v", user, s.ctx.Err())
	}
	return nil
}

func (s *Step) answer(user string, in *phone.Incoming) *phone.Call {
	c, err := s.env.Agent(user).answer(in)
	if err != nil {
		s.Fatalf("%s answers: %v", user, err)
	}
	return c
}

// checkHeaders compares the headers of an INVITE with want; a want value of
// "*" only asks for presence.
func (s *Step) checkHeaders(who string, hs []phone.Header, want map[string]string) {
	got := map[string]string{}
	for _, h := range hs {
		if _, dup := got[strings.ToLower(h.Name)]; !dup {
			got[strings.ToLower(h.Name)] = h.Value
		}
	}
	var shown []string
	for name, w := range want {
		v, ok := got[strings.ToLower(name)]
		switch {
		case !ok:
			s.Errorf("%s's INVITE lacks %s (want %q)", who, name, w)
		case w != "*" && v != w:
			s.Errorf("%s's INVITE has %s: %q, want %q", who, name, v, w)
		default:
			shown = append(shown, name+": "+v)
		}
	}
	slices.Sort(shown)
	s.Notef("%s's INVITE carried %s", who, strings.Join(shown, "; "))
}

func (s *Step) transfer(r callflow.CallRecord, i int) callflow.Transfer {
	if len(r.Transfers) <= i {
		s.Fatalf("record has %d transfers, want at least %d", len(r.Transfers), i+1)
	}
	return r.Transfers[i]
}

func (s *Step) ended(who string, c *phone.Call) {
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		s.Fatalf("%s's call was not hung up", who)
	}
}

// hangup: the citizen hangs up; every agent call still up must end, the record
// must be complete and the switch empty.
func (s *Step) hangup(c *phone.Call, id string, others ...*phone.Call) callflow.CallRecord {
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
	defer cancel()
	if err := c.Hangup(ctx); err != nil {
		s.Errorf("citizen hangup: %v", err)
	}
	for _, o := range others {
		if o != nil {
			s.ended("agent", o)
		}
	}
	r := s.waitState(id, callflow.StateEnded)
	s.SwitchIsEmpty(s.env.PBX)
	s.RecordComplete(r)
	return r
}
