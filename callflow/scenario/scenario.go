package scenario

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/callflow"
)

// Scenario is one demo call.
type Scenario struct {
	Name string
	run  func(s *Step)
}

// Result is what a scenario did and whether every check held.
type Result struct {
	Name     string
	Pass     bool
	Failures []string
	Records  []callflow.CallRecord
	Notes    []string
	Took     time.Duration
}

// All returns the demo scenarios in the order of issue 2.
func All() []Scenario {
	return []Scenario{
		{"one-key 12345->110 answered", oneKeyAnswered},
		{"one-key no answer -> back to first agent", oneKeyNoAnswer},
		{"one-key 110->12345", oneKey110To12345},
		{"three-way then hand over", func(s *Step) { threeWay(s, callflow.KeyHandOver) }},
		{"three-way then keep", func(s *Step) { threeWay(s, callflow.KeyKeep) }},
		{"three-way undetermined", func(s *Step) { threeWay(s, callflow.KeyUndetermined) }},
		{"emergency to 110", emergency},
		{"caller hangs up while 110 rings", callerHangsUpWhileRinging},
		{"double press", doublePress},
		{"phone transfer key (REFER, ari-only)", phoneTransferKey},
	}
}

// Step is a running scenario: the checks it makes and what it found.
type Step struct {
	Checks
	ctx     context.Context
	env     *Env
	callIDs []string
}

// Run runs one scenario on env and checks that it leaves the switch empty.
func Run(ctx context.Context, env *Env, sc Scenario) (res Result) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s := &Step{ctx: ctx, env: env}
	resetPhones(env)
	s.Guard(func() { sc.run(s) })
	s.SwitchIsEmpty(s.env.PBX)
	res = s.Result(sc.Name)
	for _, id := range s.callIDs {
		if r, ok := env.Controller.Call(id); ok {
			res.Records = append(res.Records, r)
		}
	}
	res.Took = time.Since(start)
	return res
}

func resetPhones(env *Env) {
	for _, p := range []string{Agent12345, Agent110, Emergency} {
		env.Switch.Sim.Phone(p).OnIncoming(nil).SetScript(sim.Script{Behavior: sim.Answer, AnswerAfter: 200 * time.Millisecond})
	}
}

// --- building blocks ---

// manual makes a phone ring and hand its incoming calls to the scenario.
func (s *Step) manual(phone string) <-chan *sim.Call {
	ch := make(chan *sim.Call, 4)
	s.env.Switch.Sim.Phone(phone).OnIncoming(func(c *sim.Call) { c.Ring(); ch <- c })
	return ch
}

func (s *Step) script(phone string, sc sim.Script) {
	s.env.Switch.Sim.Phone(phone).OnIncoming(nil).SetScript(sc)
}

func (s *Step) incoming(ch <-chan *sim.Call, who string) *sim.Call {
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		s.Fatalf("%s was never called", who)
	case <-s.ctx.Done():
		s.Fatalf("%s: %v", who, s.ctx.Err())
	}
	return nil
}

// dial: the citizen calls an entry; returns the call and the controller's call id once an agent talks with them.
func (s *Step) dial(entry string, firstAgent string) (*sim.Call, string) {
	c, err := s.env.Switch.Sim.Phone(Citizen).Call(s.ctx, entry, sim.WithCallerID("市民", "13800138000"))
	if err != nil {
		s.Fatalf("citizen call to %s: %v", entry, err)
	}
	wctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := c.Wait(wctx, sim.CallUp); err != nil {
		s.Fatalf("citizen call not answered: %v", err)
	}
	id := s.callOf(c.ChannelID())
	s.callIDs = append(s.callIDs, id)
	s.bridged(c, "caller talks with the first agent", firstAgent)
	return c, id
}

func (s *Step) callOf(callerChan string) string {
	var id string
	s.eventually("controller has the call", func() bool {
		for _, r := range s.env.Controller.Calls() {
			if len(r.Legs) > 0 && r.Legs[0].ChannelID == callerChan {
				id = r.ID
				return true
			}
		}
		return false
	})
	return id
}

func (s *Step) eventually(what string, cond func() bool) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && s.ctx.Err() == nil {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Fatalf("timed out: %s", what)
}

// peers reads through ARI (GET /bridges, GET /channels) whom a channel is bridged with.
func (s *Step) peers(channelID string) []string {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	bridges, err := s.env.PBX.Bridges(ctx)
	if err != nil {
		s.Fatalf("GET /bridges: %v", err)
	}
	chans, err := s.env.PBX.Channels(ctx)
	if err != nil {
		s.Fatalf("GET /channels: %v", err)
	}
	names := map[string]string{}
	for _, c := range chans {
		names[c.ID] = c.Name
	}
	for _, b := range bridges {
		if !slices.Contains(b.Channels, channelID) {
			continue
		}
		var out []string
		for _, o := range b.Channels {
			if o != channelID {
				out = append(out, phoneOf(names[o]))
			}
		}
		sort.Strings(out)
		return out
	}
	return nil
}

// phoneOf turns "Sim/a110-2001-00000003" into "a110-2001".
func phoneOf(name string) string {
	name = strings.TrimPrefix(name, simPrefix)
	if i := strings.LastIndexByte(name, '-'); i > 0 && len(name)-i == 9 {
		return name[:i]
	}
	return name
}

// bridged waits until the citizen is bridged with exactly the given phones (none: not bridged).
func (s *Step) bridged(c *sim.Call, what string, phones ...string) {
	want := slices.Clone(phones)
	sort.Strings(want)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got = s.peers(c.ChannelID())
		if slices.Equal(got, want) {
			s.Notef("%s: caller bridged with %v", what, want)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Fatalf("%s: caller bridged with %v, want %v", what, got, want)
}

// hears checks what the caller hears now (via the switch's media audit).
func (s *Step) hears(c *sim.Call, what string, kinds ...engine.HearingKind) {
	var now engine.Hearing
	s.eventually(what, func() bool {
		h, _, ok := s.env.Switch.Engine.Hearing(c.ChannelID())
		now = h
		return ok && slices.Contains(kinds, h.Kind)
	})
	s.Notef("%s: caller hears %s", what, now)
}

// heardPlayback checks the caller's hearing log for a playback of uri (the announcement).
func (s *Step) heardPlayback(c *sim.Call, uri string) {
	_, log, _ := s.env.Switch.Engine.Hearing(c.ChannelID())
	for _, h := range log {
		if h.Kind == engine.HearPlayback && h.URI == uri {
			s.Notef("caller heard the announcement %s", uri)
			return
		}
	}
	s.Errorf("caller never heard %s (log %v)", uri, log)
}

// neverSilent checks the caller's hearing log: after the first sound, silence never
// lasted longer than the gap between two PBX commands.
func (s *Step) neverSilent(c *sim.Call) {
	_, log, ok := s.env.Switch.Engine.Hearing(c.ChannelID())
	if !ok {
		s.Errorf("no hearing log for the caller")
		return
	}
	const maxGap = 250 * time.Millisecond
	var silentSince time.Time
	heard := false
	var longest time.Duration
	for _, h := range log {
		if h.Kind == engine.HearSilence {
			if heard && silentSince.IsZero() {
				silentSince = h.At
			}
			continue
		}
		heard = true
		if !silentSince.IsZero() {
			longest = max(longest, h.At.Sub(silentSince))
			silentSince = time.Time{}
		}
	}
	if !silentSince.IsZero() {
		longest = max(longest, time.Since(silentSince))
	}
	if longest > maxGap {
		s.Errorf("caller left in silence for %v (log %v)", longest, log)
	}
	s.Notef("media audit: %d hearing changes, longest silence %v", len(log), longest.Round(time.Millisecond))
}

func (s *Step) record(id string) callflow.CallRecord {
	r, ok := s.env.Controller.Call(id)
	if !ok {
		s.Fatalf("no record for call %s", id)
	}
	return r
}

func (s *Step) waitState(id string, st callflow.CallState) callflow.CallRecord {
	s.eventually("call state "+st.String(), func() bool { r, _ := s.env.Controller.Call(id); return r.State == st.String() })
	return s.record(id)
}

func (s *Step) softkey(id string, key callflow.Key, category string) callflow.SoftkeyResult {
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
	defer cancel()
	res, err := s.env.Controller.Softkey(ctx, callflow.SoftkeyRequest{CallID: id, Key: key, Category: category, TicketID: "GD-2026-000123", Source: callflow.SourceHTTP})
	if err != nil {
		s.Fatalf("softkey %s: %v", key, err)
	}
	return res
}

func (s *Step) category(dir callflow.Direction) string {
	return s.env.Controller.Matters().Names(string(dir))[0]
}

// lastCall returns the newest call a phone received.
func (s *Step) lastCall(phone string) *sim.Call {
	calls := s.env.Switch.Sim.Phone(phone).Calls()
	if len(calls) == 0 {
		s.Fatalf("%s has no call", phone)
	}
	return calls[len(calls)-1]
}

// hangupAndCheck: the citizen hangs up; the call must end and leave nothing behind.
func (s *Step) hangupAndCheck(c *sim.Call, id string) callflow.CallRecord {
	s.neverSilent(c)
	c.Hangup()
	r := s.waitState(id, callflow.StateEnded)
	s.SwitchIsEmpty(s.env.PBX)
	s.RecordComplete(r)
	return r
}

func (s *Step) transfer(r callflow.CallRecord, i int) callflow.Transfer {
	if len(r.Transfers) <= i {
		s.Fatalf("record has %d transfers, want at least %d", len(r.Transfers), i+1)
	}
	return r.Transfers[i]
}

// Print writes a scenario's leg timeline and its PASS/FAIL line.
func Print(w io.Writer, res Result) {
	fmt.Fprintf(w, "=== %s\n", res.Name)
	for _, r := range res.Records {
		printRecord(w, r)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "    . %s\n", n)
	}
	for _, f := range res.Failures {
		fmt.Fprintf(w, "    ! %s\n", f)
	}
	verdict := "PASS"
	if !res.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%-45s %6.2fs %s\n", res.Name, res.Took.Seconds(), verdict)
}

func printRecord(w io.Writer, r callflow.CallRecord) { callflow.WriteTimeline(w, r) }
