package callflow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"linkctl/sip/sipcause"
)

// release hangs up a leg on purpose (its hangup events are then expected).
func (cl *call) release(l *leg, reason string) {
	if l == nil || l.released || l.gone {
		return
	}
	l.released = true
	err := cl.cmd("hangup", func(ctx context.Context) error { return cl.ctl.pbx.Hangup(ctx, l.id, reason) })
	if err != nil && errors.Is(err, ErrChannelGone) {
		cl.markGone(l, 0, "")
	}
}

func (cl *call) markGone(l *leg, cause int, causeText string) {
	cl.markGoneAs(l, cause, causeText, false)
}

// markGoneAs records that a leg went away. A guessed cause (the leg ended without a
// ChannelDestroyed telling the real one) is replaced by a real cause arriving later.
func (cl *call) markGoneAs(l *leg, cause int, causeText string, guessed bool) {
	r := cl.recLeg(l)
	if causeText == "" && cause != 0 {
		causeText = sipcause.Text(cause)
	}
	if l.gone {
		if cause != 0 && (r.Cause == 0 || (l.guessedCause && !guessed)) {
			r.Cause, r.CauseText = cause, causeText
			l.guessedCause = guessed
			cl.dirty = true
		}
		return
	}
	l.gone = true
	l.cause = cause
	r.HungUp = now()
	if r.Bridged != nil && r.Left == nil {
		r.Left = r.HungUp
	}
	if cause != 0 {
		r.Cause, r.CauseText = cause, causeText
		l.guessedCause = guessed
	}
	cl.dirty = true
}

// causeNormalClearing is what a connected leg that ended without telling why gets:
// Asterisk sends no ChannelDestroyed for inbound/dialplan channels (traces t01, t03),
// and a remote BYE comes as a hangup request with cause 0.
const causeNormalClearing = 16

// legGone handles any sign that a channel went away.
func (cl *call) legGone(id string, cause int, causeText string, destroyed bool) {
	l := cl.legs[id]
	if l == nil {
		return
	}
	wasGone := l.gone
	if !l.answered && l.role != RoleCitizen {
		if cause == 32 { // soft-hangup flag of an ARI DELETE, not a Q.850 cause
			cause = 0
		}
		// An unanswered leg ends for real with ChannelDestroyed (it carries the Q.850
		// cause, t04/t07) or a hangup request with a cause (t05 busy); a bare
		// StasisEnd or soft request comes before the cause (t07-create-dial-noanswer).
		if destroyed || cause != 0 || l.released {
			cl.legFailed(l, cause, causeText)
		}
		return
	}
	if cause == 32 {
		cause = 0
	}
	guessed := false
	if cause == 0 && !destroyed {
		cause, causeText, guessed = causeNormalClearing, "", true
	}
	cl.markGoneAs(l, cause, causeText, guessed)
	if wasGone || l.released {
		return
	}
	switch {
	case l == cl.caller:
		cl.callerHungUp()
	case l == cl.owner:
		cl.ownerHungUp()
	case l == cl.other:
		cl.otherHungUp()
	}
}

// legFailed: an unanswered leg ended (busy, no answer, unavailable, released).
func (cl *call) legFailed(l *leg, cause int, why string) {
	already := l.gone
	cl.markGone(l, cause, why)
	if already || l.answered {
		return
	}
	if cl.routing != nil && slices.Contains(cl.routing.legs, l) {
		cl.routingLegFailed(cl.routing)
		return
	}
	if cl.xfer != nil && slices.Contains(cl.xfer.dial.legs, l) {
		cl.targetLegFailed()
	}
}

func allGone(legs []*leg) bool {
	for _, l := range legs {
		if !l.gone {
			return false
		}
	}
	return true
}

// callerHungUp: the citizen left; everything ends.
func (cl *call) callerHungUp() {
	if cl.xfer != nil {
		cl.finishTransfer(OutcomeCallerGone, "市民在转接完成前挂机")
	}
	cl.end("caller hung up", "")
}

func (cl *call) ownerHungUp() {
	from := cl.state
	if err := cl.setState(InOwnerHangup); err != nil {
		return
	}
	gone := cl.owner
	cl.owner = nil
	delete(cl.decoders, gone.id)
	pbx := cl.ctl.pbx
	switch from {
	case StateTalking:
		cl.end("agent hung up", "")
	case StateTransferRinging:
		// The one-key transfer goes on; on failure the caller goes back to the group.
	case StateConsultRinging, StateEmergencyRinging:
		// Caller would be alone with nobody: hold music until the target answers.
		_ = cl.cmd("bridge remove", func(ctx context.Context) error { return pbx.RemoveFromBridge(ctx, cl.bridgeID, cl.caller.id) })
		_ = cl.cmd("moh", func(ctx context.Context) error { return pbx.StartMOH(ctx, cl.caller.id, cl.ctl.cfg.MOHClass) })
		cl.xfer.mohOn = true
	case StateThreeWay:
		cl.owner, cl.other = cl.other, nil
		cl.rec.OwnerPlatform = cl.owner.platform
		cl.finishTransfer(OutcomeHandedOver, "首接坐席挂机，对方平台接手")
	}
}

func (cl *call) otherHungUp() {
	if err := cl.setState(InOtherAgentHangup); err != nil {
		return
	}
	delete(cl.decoders, cl.other.id)
	cl.other = nil
	cl.finishTransfer(OutcomeKept, "对方平台坐席挂机，首接平台保留")
}

// end tears the call down: idempotent, bounded, and it hangs the caller up only
// because the call itself is over.
func (cl *call) end(why string, outcome TransferOutcome) {
	cl.endOnce.Do(func() {
		if cl.xfer != nil {
			o := outcome
			if o == "" {
				o = OutcomeFailed
			}
			cl.finishTransfer(o, why)
		}
		if err := cl.setStateEnd(); err != nil {
			cl.log.Error("end", zap.Error(err))
		}
		cl.stopTimers()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(cl.ctx), cl.ctl.teardownTimeout())
		defer cancel()
		pbx := cl.ctl.pbx
		for _, l := range cl.legs {
			if l.gone {
				continue
			}
			if !l.released {
				l.released = true
				if err := pbx.Hangup(ctx, l.id, "normal"); err != nil && !errors.Is(err, ErrChannelGone) {
					cl.log.Warn("teardown hangup", zap.String("channel_id", l.id), zap.Error(err))
				}
			}
			// Its own hangup events may come after the call stopped listening: we
			// hung it up with reason normal.
			cl.markGoneAs(l, causeNormalClearing, "", true)
		}
		if err := pbx.DestroyBridge(ctx, cl.bridgeID); err != nil && !errors.Is(err, ErrBridgeGone) {
			cl.log.Warn("teardown bridge", zap.String("bridge_id", cl.bridgeID), zap.Error(err))
		}
		cl.rec.Ended = now()
		cl.rec.EndCause = cl.ctl.drain.endCause(why)
		cl.rec.Outcome = cl.callOutcome()
		cl.dirty = true
		for id := range cl.legs {
			cl.ctl.unroute(id)
		}
		cl.log.Info("call ended", zap.String("cause", cl.rec.EndCause), zap.String("outcome", cl.rec.Outcome))
		cl.cancel(fmt.Errorf("call ended: %s", why))
		cl.flush()
	})
}

func (cl *call) setStateEnd() error {
	if cl.state == StateEnded {
		return nil
	}
	// Any state ends on caller hangup; the table names which.
	if _, ok := transitions[edge{cl.state, InCallerHangup}]; !ok {
		return &TransitionError{From: cl.state, Input: InCallerHangup, Reason: "no end edge"}
	}
	cl.state = StateEnded
	cl.rec.State = StateEnded.String()
	return nil
}

func (cl *call) callOutcome() string {
	if n := len(cl.rec.Transfers); n > 0 {
		return string(cl.rec.Transfers[n-1].Outcome)
	}
	if cl.rec.Legs != nil {
		for _, l := range cl.rec.Legs {
			if l.Role != RoleCitizen && l.Answered != nil {
				return "answered"
			}
		}
	}
	return "unanswered"
}

// reconcile runs after the event stream reconnected: channels that vanished while we
// were not listening are treated as hung up.
func (cl *call) reconcile() {
	var chans []ChannelInfo
	err := cl.cmd("list channels", func(ctx context.Context) error {
		var err error
		chans, err = cl.ctl.pbx.Channels(ctx)
		return err
	})
	if err != nil {
		return
	}
	present := map[string]ChannelInfo{}
	for _, ch := range chans {
		present[ch.ID] = ch
	}
	for id, l := range cl.legs {
		if l.gone {
			continue
		}
		ch, ok := present[id]
		if !ok {
			cl.legGone(id, 0, "gone while events were down", true)
			continue
		}
		if !l.answered && ch.State == "Up" && l.role != RoleCitizen {
			cl.stasisStart(StasisStart{ChannelID: id, State: "Up"})
		}
		if cl.state == StateEnded {
			return
		}
	}
}
