package main

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"linkctl/callflow"
	"linkctl/sip/phone"
)

// A citizen's call must survive the controller's death: the switch runs in its own
// process (like Asterisk), the controller is killed with SIGKILL (or stopped with
// SIGTERM) in the middle of a one-key transfer and started again; the restarted
// controller must leave the caller with an agent and continue the same call record.

// liveCall is a call brought to "110 ringing after *1" by driveToTransferRinging.
type liveCall struct {
	id                      string
	citizenCh, a12345Ch     string
	a110Ch                  string
	citizen, agent          *phone.Call
	in110                   *phone.Incoming
	beforeKill              callflow.CallRecord
	transferRequestedBefore time.Time
}

func legOf(rec callflow.CallRecord, role callflow.LegRole) string {
	for _, l := range rec.Legs {
		if l.Role == role {
			return l.ChannelID
		}
	}
	return ""
}

// driveToTalking: the citizen calls 12345 over SIP and the 12345 agent's phone
// answers; returns once the store and the switch show them bridged.
func driveToTalking(t *testing.T, ctx context.Context, r *splitRig, ps *phones) *liveCall {
	t.Helper()
	type res struct {
		c   *phone.Call
		err error
	}
	got := make(chan res, 1)
	go func() {
		c, err := ps.citizen.Call(ctx, "12345")
		got <- res{c, err}
	}()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	agent, err := ps.a12345.WaitCall(wctx)
	if err != nil {
		t.Fatalf("12345 agent never got the call: %v", err)
	}
	var citizen *phone.Call
	select {
	case rs := <-got:
		if rs.err != nil {
			t.Fatalf("citizen call: %v", rs.err)
		}
		citizen = rs.c
	case <-wctx.Done():
		t.Fatal("citizen's call never answered")
	}
	rec := r.record("talking with the 12345 agent", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateTalking.String() && legOf(c, callflow.RoleCitizen) != "" && legOf(c, callflow.RoleAgent12345) != ""
	})
	lc := &liveCall{id: rec.ID, citizenCh: legOf(rec, callflow.RoleCitizen), a12345Ch: legOf(rec, callflow.RoleAgent12345), citizen: citizen, agent: agent}
	eventually(t, "caller bridged with the 12345 agent", 5*time.Second, func() bool {
		return slices.Equal(r.partners(lc.citizenCh), []string{lc.a12345Ch})
	})
	return lc
}

// pressTransfer: the 12345 agent dials *1 on the phone (RFC 4733).
func (lc *liveCall) pressTransfer(t *testing.T) time.Time {
	t.Helper()
	at := time.Now()
	if err := lc.agent.SendDTMF("*1"); err != nil {
		t.Fatalf("agent *1: %v", err)
	}
	return at
}

// waitIncoming110 returns the INVITE the 110 agent's phone got (already ringing).
func waitIncoming110(t *testing.T, ps *phones) *phone.Incoming {
	t.Helper()
	select {
	case in := <-ps.incoming110:
		return in
	case <-time.After(10 * time.Second):
		t.Fatal("the 110 agent's phone never rang after *1")
	}
	return nil
}

// driveToTransferRinging: talking, *1, the 110 agent's phone rings; returns once
// the store holds the pending transfer on disk.
func driveToTransferRinging(t *testing.T, ctx context.Context, r *splitRig, ps *phones) *liveCall {
	t.Helper()
	lc := driveToTalking(t, ctx, r, ps)
	lc.pressTransfer(t)
	lc.in110 = waitIncoming110(t, ps)
	lc.beforeKill = r.record("holding the ringing transfer", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.ID == lc.id && c.State == callflow.StateTransferRinging.String() && len(c.Transfers) == 1 &&
			c.Transfers[0].Outcome == callflow.OutcomePending && legOf(c, callflow.RoleAgent110) != ""
	})
	lc.a110Ch = legOf(lc.beforeKill, callflow.RoleAgent110)
	lc.transferRequestedBefore = lc.beforeKill.Transfers[0].Requested
	if p := r.partners(lc.citizenCh); len(p) != 0 {
		t.Fatalf("caller still bridged with %v while the transfer rings (want alone on announcement/MOH)", p)
	}
	return lc
}

// assertCallerKeptUp checks, while no controller runs, that the switch kept the
// caller's channel and the phone's call.
func assertCallerKeptUp(t *testing.T, r *splitRig, lc *liveCall) {
	t.Helper()
	chans, _ := r.switchState()
	if !slices.ContainsFunc(chans, func(c ariChannel) bool { return c.ID == lc.citizenCh && c.State == "Up" }) {
		t.Fatalf("switch dropped the caller's channel %s while the controller was down: %+v", lc.citizenCh, chans)
	}
	if s := lc.citizen.State(); s != phone.StateActive {
		t.Fatalf("citizen's phone is %s while the controller was down", s)
	}
}

// assertCallerHearsWhileDown: with no controller running, the caller keeps hearing
// the announcement or hold music the switch plays (never silence): half a second
// of sound since down, and no silence longer than maxSilence in it.
func assertCallerHearsWhileDown(t *testing.T, lc *liveCall, down time.Time) {
	t.Helper()
	const maxSilence = time.Second
	audible := func(tl phone.Timeline) (d time.Duration) {
		for _, s := range tl {
			if !s.Silent {
				d += s.End.Sub(s.Start)
			}
		}
		return d
	}
	eventually(t, "caller hears the switch's announcement/MOH while the controller is down", 5*time.Second, func() bool {
		return audible(lc.citizen.Heard().Since(down)) >= 500*time.Millisecond
	})
	if tl := lc.citizen.Heard().Since(down); tl.LongestSilence() > maxSilence {
		t.Errorf("caller heard %s of silence while the controller was down: %s", tl.LongestSilence(), tl)
	}
}

// endAndCheckClean: the citizen hangs up; the switch ends up empty and the record ended.
func endAndCheckClean(t *testing.T, ctx context.Context, r *splitRig, lc *liveCall) callflow.CallRecord {
	t.Helper()
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := lc.citizen.Hangup(hctx); err != nil {
		t.Fatalf("citizen hangup: %v", err)
	}
	eventually(t, "no channel or bridge left on the switch", 10*time.Second, func() bool {
		chans, bridges := r.switchState()
		return len(chans) == 0 && len(bridges) == 0
	})
	rec := r.record("ended", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateEnded.String() && c.Ended != nil
	})
	for _, l := range rec.Legs {
		if l.HungUp == nil {
			t.Errorf("leg %s (%s) has no hang-up time in the ended record", l.ChannelID, l.Role)
		}
	}
	return rec
}

func TestControllerRestartMidTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process restart test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	tests := []struct {
		name string
		// stop ends the controller: SIGKILL (crash) or SIGTERM (graceful, websocket closed).
		stop syscall.Signal
		// answerWhileDown: the 110 agent answers while no controller runs.
		answerWhileDown bool
		wantOutcome     callflow.TransferOutcome
		wantOwner       callflow.Platform
		// crashes: the restarted controller is killed again this many times right
		// after it connected (mid-recovery) before the one that stays.
		crashes int
	}{
		{"kill -9 while 110 rings: rolled back to the 12345 agent", syscall.SIGKILL, false, callflow.OutcomeFailed, callflow.Platform12345, 0},
		{"kill -9 after 110 answered, before the caller moved: completed", syscall.SIGKILL, true, callflow.OutcomeCompleted, callflow.Platform110, 0},
		{"graceful stop (websocket closed) while 110 rings: rolled back", syscall.SIGTERM, false, callflow.OutcomeFailed, callflow.Platform12345, 0},
		{"graceful stop, 110 answers meanwhile: completed", syscall.SIGTERM, true, callflow.OutcomeCompleted, callflow.Platform110, 0},
		{"kill -9 again during recovery (110 ringing)", syscall.SIGKILL, false, callflow.OutcomeFailed, callflow.Platform12345, 2},
		{"kill -9 again during recovery (110 answered)", syscall.SIGKILL, true, callflow.OutcomeCompleted, callflow.Platform110, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			r := newSplitRig(t, bin, rigOptions{})
			ps := newPhones(t, ctx, r.sipAddr)
			lc := driveToTransferRinging(t, ctx, r, ps)

			down := time.Now()
			r.ctl.kill(tt.stop)
			assertCallerKeptUp(t, r, lc)
			assertCallerHearsWhileDown(t, lc, down)
			var a110 *phone.Call
			if tt.answerWhileDown {
				var err error
				if a110, err = lc.in110.Answer(); err != nil {
					t.Fatalf("110 agent answers while the controller is down: %v", err)
				}
				// The switch saw the answer: the 110 leg is Up and nobody moved the caller.
				eventually(t, "110 leg up on the switch", 5*time.Second, func() bool {
					chans, _ := r.switchState()
					return slices.ContainsFunc(chans, func(c ariChannel) bool { return c.ID == lc.a110Ch && c.State == "Up" })
				})
				assertCallerKeptUp(t, r, lc)
			}

			for i := 0; i < tt.crashes; i++ {
				r.startController()
				r.ctl.kill(syscall.SIGKILL)
				assertCallerKeptUp(t, r, lc)
			}
			spawned := time.Now()
			r.startController()
			ready := time.Now()

			wantPartner := lc.a12345Ch
			if tt.answerWhileDown {
				wantPartner = lc.a110Ch
			}
			eventually(t, "caller bridged with "+wantPartner+" after the restart", 10*time.Second, func() bool {
				return slices.Equal(r.partners(lc.citizenCh), []string{wantPartner})
			})
			// Reported, not asserted: how long the caller waited on the switch's MOH.
			t.Logf("controller down %s; process start to ready %s; ready to caller bridged %s",
				spawned.Sub(down).Round(time.Millisecond), ready.Sub(spawned).Round(time.Millisecond), time.Since(ready).Round(time.Millisecond))
			rec := r.record("settled after the restart", 10*time.Second, func(c callflow.CallRecord) bool {
				return c.State == callflow.StateTalking.String() && len(c.Transfers) == 1 && c.Transfers[0].Outcome == tt.wantOutcome
			})
			if rec.ID != lc.id || rec.Version <= lc.beforeKill.Version || !rec.Started.Equal(lc.beforeKill.Started) {
				t.Errorf("record did not continue: before %s v%d started %v, after %s v%d started %v",
					lc.id, lc.beforeKill.Version, lc.beforeKill.Started, rec.ID, rec.Version, rec.Started)
			}
			if !rec.Transfers[0].Requested.Equal(lc.transferRequestedBefore) || rec.Transfers[0].Completed == nil {
				t.Errorf("transfer not continued and settled: %+v", rec.Transfers[0])
			}
			if rec.OwnerPlatform != tt.wantOwner {
				t.Errorf("owner platform %s, want %s", rec.OwnerPlatform, tt.wantOwner)
			}
			if lc.citizen.State() != phone.StateActive {
				t.Fatalf("citizen's call is %s after the restart", lc.citizen.State())
			}
			if tt.answerWhileDown {
				// The first agent is released; the 110 agent keeps the caller.
				select {
				case <-lc.agent.Done():
				case <-time.After(10 * time.Second):
					t.Error("12345 agent's call not released after the completed transfer")
				}
				if a110.State() != phone.StateActive {
					t.Errorf("110 agent's call is %s", a110.State())
				}
				if rec.Transfers[0].TargetLeg != lc.a110Ch {
					t.Errorf("transfer target leg %q, want %q", rec.Transfers[0].TargetLeg, lc.a110Ch)
				}
			} else {
				// No orphan ringing: the 110 phone's INVITE is cancelled.
				select {
				case <-lc.in110.Cancelled():
				case <-time.After(10 * time.Second):
					t.Error("110 phone still rings after the rollback")
				}
				if lc.agent.State() != phone.StateActive {
					t.Errorf("12345 agent's call is %s after the rollback", lc.agent.State())
				}
			}
			final := endAndCheckClean(t, ctx, r, lc)
			if final.ID != lc.id || final.Transfers[0].Outcome != tt.wantOutcome {
				t.Errorf("final record %s transfers %+v", final.ID, final.Transfers)
			}
		})
	}
}

// TestControllerRestartWithoutCalls: a controller killed and restarted while no
// call runs does nothing: no channel, bridge, INVITE or record appears, and the
// one finished call in the store stays as it was.
func TestControllerRestartWithoutCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process restart test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newSplitRig(t, bin, rigOptions{})
	ps := newPhones(t, ctx, r.sipAddr)

	// One finished call first, so the store has something a careless restart could touch.
	c, err := ps.citizen.Call(ctx, "12345")
	if err != nil {
		t.Fatalf("citizen call: %v", err)
	}
	if _, err := ps.a12345.WaitCall(ctx); err != nil {
		t.Fatal(err)
	}
	r.record("talking", 10*time.Second, func(c callflow.CallRecord) bool { return c.State == callflow.StateTalking.String() })
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	done := r.record("ended", 10*time.Second, func(c callflow.CallRecord) bool { return c.State == callflow.StateEnded.String() })

	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		r.ctl.kill(sig)
		r.startController()
	}
	// Give a wrongly acting recovery the time to show itself, then look.
	time.Sleep(time.Second)
	chans, bridges := r.switchState()
	if len(chans) != 0 || len(bridges) != 0 {
		t.Errorf("restart without calls left channels %+v bridges %+v", chans, bridges)
	}
	select {
	case in := <-ps.incoming110:
		t.Errorf("restart without calls rang the 110 agent (from %s)", in.From())
	default:
	}
	if n := len(ps.a12345.Calls()); n != 0 {
		t.Errorf("12345 agent has %d calls after the restart", n)
	}
	recs := r.records()
	if len(recs) != 1 || recs[0].ID != done.ID || recs[0].Version != done.Version {
		t.Errorf("store changed by a restart without calls: %+v", recs)
	}
}

// TestControllerRestartDuringThreeWay: kill -9 while caller and both agents talk
// in a three-way call; the restarted controller keeps the three together and the
// hand-over key (*4) still works on the adopted call.
func TestControllerRestartDuringThreeWay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process restart test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newSplitRig(t, bin, rigOptions{})
	ps := newPhones(t, ctx, r.sipAddr)
	lc := driveToTalking(t, ctx, r, ps)
	if err := lc.agent.SendDTMF("*3"); err != nil {
		t.Fatal(err)
	}
	a110, err := waitIncoming110(t, ps).Answer()
	if err != nil {
		t.Fatal(err)
	}
	before := r.record("in three-way", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateThreeWay.String() && legOf(c, callflow.RoleAgent110) != ""
	})
	lc.a110Ch = legOf(before, callflow.RoleAgent110)
	three := []string{lc.a12345Ch, lc.a110Ch}
	slices.Sort(three)
	eventually(t, "three in one bridge", 5*time.Second, func() bool { return slices.Equal(r.partners(lc.citizenCh), three) })

	r.ctl.kill(syscall.SIGKILL)
	assertCallerKeptUp(t, r, lc)
	r.startController()
	rec := r.record("adopted as three-way", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateThreeWay.String() && c.Version > before.Version
	})
	if rec.ID != lc.id || !slices.Equal(r.partners(lc.citizenCh), three) {
		t.Fatalf("after restart: record %s, caller's partners %v, want %v", rec.ID, r.partners(lc.citizenCh), three)
	}

	if err := lc.agent.SendDTMF("*4"); err != nil { // hand over to 110
		t.Fatal(err)
	}
	eventually(t, "caller with the 110 agent after the hand-over", 10*time.Second, func() bool {
		return slices.Equal(r.partners(lc.citizenCh), []string{lc.a110Ch})
	})
	rec = r.record("handed over", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateTalking.String() && len(c.Transfers) == 1 && c.Transfers[0].Outcome == callflow.OutcomeHandedOver
	})
	if rec.OwnerPlatform != callflow.Platform110 || a110.State() != phone.StateActive {
		t.Errorf("after hand-over: owner %s, 110 agent %s", rec.OwnerPlatform, a110.State())
	}
	select {
	case <-lc.agent.Done():
	case <-time.After(10 * time.Second):
		t.Error("12345 agent not released by the hand-over")
	}
	endAndCheckClean(t, ctx, r, lc)
}

// TestControllerRestartWhileAgentRings: kill -9 while the citizen's call rings the
// 12345 agent (nobody answered yet). The restarted controller stops the ringing
// nobody tracks, rings the group again, and the agent who answers gets the caller.
func TestControllerRestartWhileAgentRings(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process restart test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newSplitRig(t, bin, rigOptions{})
	ps := newPhones(t, ctx, r.sipAddr)
	ring12345 := make(chan *phone.Incoming, 4)
	ps.a12345.OnIncoming(func(in *phone.Incoming) { _ = in.Ring(); ring12345 <- in })

	type res struct {
		c   *phone.Call
		err error
	}
	got := make(chan res, 1)
	go func() {
		c, err := ps.citizen.Call(ctx, "12345")
		got <- res{c, err}
	}()
	var first *phone.Incoming
	select {
	case first = <-ring12345:
	case <-time.After(10 * time.Second):
		t.Fatal("12345 agent never rang")
	}
	before := r.record("routing", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateRouting.String() && legOf(c, callflow.RoleAgent12345) != ""
	})

	r.ctl.kill(syscall.SIGKILL)
	r.startController()

	select {
	case <-first.Cancelled():
	case <-time.After(10 * time.Second):
		t.Fatal("the ring nobody tracks any more was not cancelled")
	}
	var again *phone.Incoming
	select {
	case again = <-ring12345:
	case <-time.After(10 * time.Second):
		t.Fatal("the restarted controller did not ring the group again")
	}
	agent, err := again.Answer()
	if err != nil {
		t.Fatal(err)
	}
	var citizen *phone.Call
	select {
	case rs := <-got:
		if rs.err != nil {
			t.Fatalf("citizen call: %v", rs.err)
		}
		citizen = rs.c
	case <-time.After(10 * time.Second):
		t.Fatal("citizen's call never answered")
	}
	rec := r.record("talking after the restart", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateTalking.String() && c.Version > before.Version
	})
	lc := &liveCall{id: rec.ID, citizenCh: legOf(rec, callflow.RoleCitizen), citizen: citizen, agent: agent}
	var agentCh string
	for _, l := range rec.Legs {
		if l.Role == callflow.RoleAgent12345 && l.HungUp == nil {
			agentCh = l.ChannelID
		}
	}
	if rec.ID != before.ID || agentCh == "" || agentCh == legOf(before, callflow.RoleAgent12345) {
		t.Errorf("record did not continue with a new agent leg: before %s legs %+v, after %s legs %+v", before.ID, before.Legs, rec.ID, rec.Legs)
	}
	eventually(t, "caller bridged with the agent who answered", 5*time.Second, func() bool {
		return slices.Equal(r.partners(lc.citizenCh), []string{agentCh})
	})
	endAndCheckClean(t, ctx, r, lc)
}

// TestControllerRestartAfterCallerLeft: the caller hangs up while the controller is
// dead (kill -9 during a ringing transfer); the restarted controller releases the
// first agent, cancels the 110 ringing and closes the record as caller-hangup.
func TestControllerRestartAfterCallerLeft(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process restart test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newSplitRig(t, bin, rigOptions{})
	ps := newPhones(t, ctx, r.sipAddr)
	lc := driveToTransferRinging(t, ctx, r, ps)
	r.ctl.kill(syscall.SIGKILL)
	if err := lc.citizen.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "caller's channel gone from the switch", 5*time.Second, func() bool {
		chans, _ := r.switchState()
		return !slices.ContainsFunc(chans, func(c ariChannel) bool { return c.ID == lc.citizenCh })
	})
	r.startController()
	select {
	case <-lc.in110.Cancelled():
	case <-time.After(10 * time.Second):
		t.Error("110 phone still rings for a caller who left while the controller was down")
	}
	rec := callerGoneAllClean(t, r, lc)
	if rec.ID != lc.id || rec.Version <= lc.beforeKill.Version || len(rec.Transfers) != 1 {
		t.Errorf("record did not continue: %s v%d transfers %+v (before v%d)", rec.ID, rec.Version, rec.Transfers, lc.beforeKill.Version)
	}
}

// TestControllerRestartWhileCallerStaysWithFirstAgent: kill -9 while 110 rings for
// an emergency hand-over (*9) or a three-way consultation (*3), where the caller
// keeps talking with the 12345 agent. The restarted controller cannot know how far
// the ring got: it stops it, leaves caller and agent together, tells the agent
// (failure notice) and records the transfer as failed.
func TestControllerRestartWhileCallerStaysWithFirstAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process restart test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	for _, tc := range []struct {
		name, key string
		ringing   callflow.CallState
	}{
		{"emergency", "*9", callflow.StateEmergencyRinging},
		{"three-way consultation", "*3", callflow.StateConsultRinging},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r := newSplitRig(t, bin, rigOptions{})
			ps := newPhones(t, ctx, r.sipAddr)
			lc := driveToTalking(t, ctx, r, ps)
			if err := lc.agent.SendDTMF(tc.key); err != nil {
				t.Fatal(err)
			}
			in := waitIncoming110(t, ps)
			before := r.record(tc.ringing.String(), 10*time.Second, func(c callflow.CallRecord) bool {
				return c.State == tc.ringing.String() && len(c.Transfers) == 1 && c.Transfers[0].Outcome == callflow.OutcomePending
			})
			r.ctl.kill(syscall.SIGKILL)
			assertCallerKeptUp(t, r, lc)
			restarted := time.Now()
			r.startController()
			select {
			case <-in.Cancelled():
			case <-time.After(10 * time.Second):
				t.Error("110 still rings for a transfer nobody tracks")
			}
			rec := r.record("settled", 10*time.Second, func(c callflow.CallRecord) bool {
				return c.State == callflow.StateTalking.String() && c.Transfers[0].Outcome != callflow.OutcomePending
			})
			if rec.ID != before.ID || rec.Transfers[0].Outcome != callflow.OutcomeFailed || rec.OwnerPlatform != callflow.Platform12345 {
				t.Errorf("after restart: %s owner %s transfer %+v", rec.ID, rec.OwnerPlatform, rec.Transfers[0])
			}
			if !slices.Equal(r.partners(lc.citizenCh), []string{lc.a12345Ch}) {
				t.Errorf("caller's partners %v, want the 12345 agent", r.partners(lc.citizenCh))
			}
			eventually(t, "12345 agent told (480 Hz notice) after the restart", 5*time.Second, func() bool {
				return lc.agent.Heard().Since(restarted).Heard(480)
			})
			endAndCheckClean(t, ctx, r, lc)
		})
	}
}

// TestSwitchRestartUnderController: the PBX itself dies (kill -9 of `linkctl
// switch`, as Asterisk crashing) and comes back empty on another ARI port. The
// controller keeps running, reconnects with backoff, closes the calls that died
// with the switch (record ended, every leg hung up) and takes new calls.
func TestSwitchRestartUnderController(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process restart test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := newSplitRig(t, bin, rigOptions{proxy: true})
	ps := newPhones(t, ctx, r.sipAddr)
	lost := driveToTalking(t, ctx, r, ps)

	r.sw.kill(syscall.SIGKILL)
	r.startSwitch()
	rec := r.record("closed after the switch died", 20*time.Second, func(c callflow.CallRecord) bool {
		return c.ID == lost.id && c.State == callflow.StateEnded.String() && c.Ended != nil
	})
	for _, l := range rec.Legs {
		if l.HungUp == nil {
			t.Errorf("leg %s (%s) of a call lost with the switch has no hang-up time", l.ChannelID, l.Role)
		}
	}
	select {
	case <-r.ctl.exited:
		t.Fatal("controller exited when the switch died")
	default:
	}

	ps.register(t, ctx)
	lc := driveToTalking(t, ctx, r, ps)
	if lc.id == lost.id {
		t.Fatalf("new call reuses the lost call's id %s", lc.id)
	}
	endAndCheckClean(t, ctx, r, lc)
	if n := len(r.records()); n != 2 {
		t.Errorf("%d records, want the lost call and the new one", n)
	}
}
