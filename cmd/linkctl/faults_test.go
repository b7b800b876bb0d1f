package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/sip/phone"
)

// Issue 4's fault list, each against the split deployment: `linkctl switch` and
// `linkctl serve` as processes, SIP phones on loopback, outcomes read back from the
// switch's ARI and the controller's store. Each fault must leave the caller with
// an agent (or, if the caller left, nothing at all on the switch).

// backWithFirstAgent asserts the rollback of a failed transfer: caller bridged
// with the 12345 agent again, the agent told why (failure notice, 480 Hz), the
// record's transfer settled with want.
func backWithFirstAgent(t *testing.T, ctx context.Context, r *splitRig, lc *liveCall, want callflow.TransferOutcome) callflow.CallRecord {
	t.Helper()
	eventually(t, "caller back with the 12345 agent", 10*time.Second, func() bool {
		return slices.Equal(r.partners(lc.citizenCh), []string{lc.a12345Ch})
	})
	rec := r.record("settled as "+string(want), 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateTalking.String() && len(c.Transfers) == 1 && c.Transfers[0].Outcome == want
	})
	if rec.ID != lc.id || rec.OwnerPlatform != callflow.Platform12345 || rec.Transfers[0].Completed == nil || rec.Transfers[0].Reason == "" {
		t.Errorf("record after rollback: id %s owner %s transfer %+v", rec.ID, rec.OwnerPlatform, rec.Transfers[0])
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := lc.agent.WaitHear(hctx, 480); err != nil {
		t.Errorf("12345 agent was not told the transfer failed (no 480 Hz notice): %v", err)
	}
	if lc.citizen.State() != phone.StateActive || lc.agent.State() != phone.StateActive {
		t.Errorf("after rollback citizen %s, agent %s", lc.citizen.State(), lc.agent.State())
	}
	return rec
}

// callerGoneAllClean asserts that a call whose caller left ends completely.
func callerGoneAllClean(t *testing.T, r *splitRig, lc *liveCall) callflow.CallRecord {
	t.Helper()
	eventually(t, "no channel or bridge left on the switch", 10*time.Second, func() bool {
		chans, bridges := r.switchState()
		return len(chans) == 0 && len(bridges) == 0
	})
	select {
	case <-lc.agent.Done():
	case <-time.After(10 * time.Second):
		t.Error("12345 agent's call not released after the caller left")
	}
	rec := r.record("ended", 10*time.Second, func(c callflow.CallRecord) bool {
		return c.State == callflow.StateEnded.String() && c.Ended != nil
	})
	for _, tr := range rec.Transfers {
		if tr.Outcome != callflow.OutcomeCallerGone {
			t.Errorf("transfer of a caller who left: outcome %q, want %q", tr.Outcome, callflow.OutcomeCallerGone)
		}
	}
	for _, l := range rec.Legs {
		if l.HungUp == nil {
			t.Errorf("leg %s (%s) has no hang-up time", l.ChannelID, l.Role)
		}
	}
	return rec
}

func TestFaultsOverARI(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process fault tests skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	shortRing := func(c *config.Config) { c.Controller.TransferRingTimeout = config.Duration(time.Second) }
	tests := []struct {
		name string
		opts rigOptions
		run  func(t *testing.T, ctx context.Context, r *splitRig, ps *phones)
	}{
		{"transfer to a group whose phones are all unregistered: refused up front", rigOptions{mutateCtl: func(c *config.Config) {
			c.Controller.Groups["110"] = config.GroupConfig{Agents: []string{"PJSIP/a110-2002"}, Strategy: "ring-all", RingTimeout: config.Duration(10 * time.Second)}
		}}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTalking(t, ctx, r, ps)
			lc.pressTransfer(t)
			rec := r.record("refusing the softkey", 10*time.Second, func(c callflow.CallRecord) bool {
				return len(c.Softkeys) == 1 && !c.Softkeys[0].Accepted
			})
			if len(rec.Transfers) != 0 || !strings.Contains(rec.Softkeys[0].Reason, "离线") || rec.State != callflow.StateTalking.String() {
				t.Errorf("refusal: state %s softkeys %+v transfers %+v", rec.State, rec.Softkeys, rec.Transfers)
			}
			hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := lc.agent.WaitHear(hctx, 480); err != nil {
				t.Errorf("12345 agent was not told of the refusal (480 Hz notice): %v", err)
			}
			if p := r.partners(lc.citizenCh); !slices.Equal(p, []string{lc.a12345Ch}) {
				t.Errorf("caller moved by a refused transfer: partners %v", p)
			}
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"originate to an unregistered endpoint inside a ring-all group", rigOptions{mutateCtl: func(c *config.Config) {
			c.Controller.Groups["110"] = config.GroupConfig{Agents: []string{"PJSIP/a110-2002", "PJSIP/a110-2001"}, Strategy: "ring-all", RingTimeout: config.Duration(10 * time.Second)}
		}}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTalking(t, ctx, r, ps)
			lc.pressTransfer(t)
			a110, err := waitIncoming110(t, ps).Answer()
			if err != nil {
				t.Fatal(err)
			}
			rec := r.record("completed", 10*time.Second, func(c callflow.CallRecord) bool {
				return len(c.Transfers) == 1 && c.Transfers[0].Outcome == callflow.OutcomeCompleted
			})
			a110Ch := rec.Transfers[0].TargetLeg
			eventually(t, "caller with the registered 110 agent", 10*time.Second, func() bool {
				return a110Ch != "" && slices.Equal(r.partners(lc.citizenCh), []string{a110Ch})
			})
			if a110.State() != phone.StateActive {
				t.Errorf("110 agent's call %s", a110.State())
			}
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"110 busy (486)", rigOptions{}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTalking(t, ctx, r, ps)
			lc.pressTransfer(t)
			if err := waitIncoming110(t, ps).Reject(486); err != nil {
				t.Fatal(err)
			}
			backWithFirstAgent(t, ctx, r, lc, callflow.OutcomeBusy)
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"110 no answer", rigOptions{mutateCtl: shortRing}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTalking(t, ctx, r, ps)
			lc.pressTransfer(t)
			in := waitIncoming110(t, ps)
			backWithFirstAgent(t, ctx, r, lc, callflow.OutcomeNoAnswer)
			select {
			case <-in.Cancelled():
			case <-time.After(5 * time.Second):
				t.Error("110 phone still rings after the ring timeout")
			}
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"caller hangs up right after the softkey", rigOptions{}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTalking(t, ctx, r, ps)
			lc.pressTransfer(t)
			in := waitIncoming110(t, ps) // the controller acted on *1: now the caller leaves
			if err := lc.citizen.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-in.Cancelled():
			case <-time.After(5 * time.Second):
				t.Error("110 phone still rings for a caller who left (orphan ringing)")
			}
			if rec := callerGoneAllClean(t, r, lc); len(rec.Transfers) != 1 {
				t.Errorf("transfers %+v, want the one *1 started", rec.Transfers)
			}
		}},
		{"caller hangs up with the softkey digits (before the controller acts)", rigOptions{}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTalking(t, ctx, r, ps)
			lc.pressTransfer(t)
			if err := lc.citizen.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			callerGoneAllClean(t, r, lc)
			select {
			case in := <-ps.incoming110:
				select {
				case <-in.Cancelled():
				case <-time.After(5 * time.Second):
					t.Error("110 phone rings for a caller who left (orphan ringing)")
				}
			default:
			}
		}},
		{"110 answers and hangs up at once (404 race on the bridge add)", rigOptions{}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTalking(t, ctx, r, ps)
			lc.pressTransfer(t)
			a110, err := waitIncoming110(t, ps).Answer()
			if err != nil {
				t.Fatal(err)
			}
			if err := a110.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			// Whatever the race decides, the caller is never left alone: either back
			// with the 12345 agent, or (if the transfer had completed) the call ended.
			eventually(t, "caller with the 12345 agent or the call ended cleanly", 10*time.Second, func() bool {
				chans, bridges := r.switchState()
				return slices.Equal(r.partners(lc.citizenCh), []string{lc.a12345Ch}) || (len(chans) == 0 && len(bridges) == 0)
			})
			rec := r.record("settled", 10*time.Second, func(c callflow.CallRecord) bool {
				return len(c.Transfers) == 1 && c.Transfers[0].Outcome != callflow.OutcomePending
			})
			t.Logf("race settled as %s, call %s", rec.Transfers[0].Outcome, rec.State)
			if lc.citizen.State() == phone.StateActive {
				backWithFirstAgent(t, ctx, r, lc, rec.Transfers[0].Outcome)
				endAndCheckClean(t, ctx, r, lc)
			}
		}},
		{"bridge destroyed under a transfer, 110 answers", rigOptions{}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTransferRinging(t, ctx, r, ps)
			r.ariDo(t, http.MethodDelete, "/bridges/"+lc.id+"-br")
			a110, err := lc.in110.Answer()
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "caller with the 110 agent", 10*time.Second, func() bool {
				return slices.Equal(r.partners(lc.citizenCh), []string{lc.a110Ch})
			})
			r.record("completed", 10*time.Second, func(c callflow.CallRecord) bool {
				return len(c.Transfers) == 1 && c.Transfers[0].Outcome == callflow.OutcomeCompleted
			})
			if a110.State() != phone.StateActive {
				t.Errorf("110 agent's call %s", a110.State())
			}
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"bridge destroyed under a transfer, 110 does not answer", rigOptions{mutateCtl: shortRing}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTransferRinging(t, ctx, r, ps)
			r.ariDo(t, http.MethodDelete, "/bridges/"+lc.id+"-br")
			backWithFirstAgent(t, ctx, r, lc, callflow.OutcomeNoAnswer)
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"websocket closed mid-transfer, 110 answers during the gap", rigOptions{proxy: true}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTransferRinging(t, ctx, r, ps)
			r.proxy.cut(true)
			a110, err := lc.in110.Answer()
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "110 leg up on the switch", 5*time.Second, func() bool {
				chans, _ := r.switchState()
				return slices.ContainsFunc(chans, func(c ariChannel) bool { return c.ID == lc.a110Ch && c.State == "Up" })
			})
			assertCallerKeptUp(t, r, lc)
			r.proxy.unblock()
			eventually(t, "caller with the 110 agent after the reconnect", 15*time.Second, func() bool {
				return slices.Equal(r.partners(lc.citizenCh), []string{lc.a110Ch})
			})
			rec := r.record("completed", 10*time.Second, func(c callflow.CallRecord) bool {
				return len(c.Transfers) == 1 && c.Transfers[0].Outcome == callflow.OutcomeCompleted && c.OwnerPlatform == callflow.Platform110
			})
			if rec.ID != lc.id || rec.Transfers[0].TargetLeg != lc.a110Ch {
				t.Errorf("record %s transfer %+v", rec.ID, rec.Transfers[0])
			}
			select {
			case <-lc.agent.Done():
			case <-time.After(10 * time.Second):
				t.Error("12345 agent not released")
			}
			if a110.State() != phone.StateActive {
				t.Errorf("110 agent's call %s", a110.State())
			}
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"websocket closed mid-transfer, 110 busy during the gap", rigOptions{proxy: true}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTransferRinging(t, ctx, r, ps)
			r.proxy.cut(true)
			if err := lc.in110.Reject(486); err != nil {
				t.Fatal(err)
			}
			eventually(t, "110 leg gone from the switch", 5*time.Second, func() bool {
				chans, _ := r.switchState()
				return !slices.ContainsFunc(chans, func(c ariChannel) bool { return c.ID == lc.a110Ch })
			})
			assertCallerKeptUp(t, r, lc)
			r.proxy.unblock()
			// The missed ChannelDestroyed is reconciled from the channel list after the reconnect.
			eventually(t, "caller back with the 12345 agent", 15*time.Second, func() bool {
				return slices.Equal(r.partners(lc.citizenCh), []string{lc.a12345Ch})
			})
			rec := r.record("settled", 10*time.Second, func(c callflow.CallRecord) bool {
				return c.State == callflow.StateTalking.String() && len(c.Transfers) == 1 && c.Transfers[0].Outcome != callflow.OutcomePending
			})
			if rec.Transfers[0].Outcome == callflow.OutcomeCompleted || rec.OwnerPlatform != callflow.Platform12345 {
				t.Errorf("after a refusal missed during the gap: owner %s transfer %+v", rec.OwnerPlatform, rec.Transfers[0])
			}
			t.Logf("refusal missed during the gap settled as %q (%s)", rec.Transfers[0].Outcome, rec.Transfers[0].Reason)
			endAndCheckClean(t, ctx, r, lc)
		}},
		{"websocket closed mid-transfer, caller leaves during the gap", rigOptions{proxy: true}, func(t *testing.T, ctx context.Context, r *splitRig, ps *phones) {
			lc := driveToTransferRinging(t, ctx, r, ps)
			r.proxy.cut(true)
			if err := lc.citizen.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			r.proxy.unblock()
			select {
			case <-lc.in110.Cancelled():
			case <-time.After(15 * time.Second):
				t.Error("110 phone still rings for a caller who left during the gap")
			}
			callerGoneAllClean(t, r, lc)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			r := newSplitRig(t, bin, tt.opts)
			ps := newPhones(t, ctx, r.sipAddr)
			tt.run(t, ctx, r, ps)
		})
	}
}
