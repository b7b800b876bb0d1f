package callflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Restart recovery (issue 4 part 4). linkctl stamps every channel it controls with
// LINKCTL_CALL_ID / LINKCTL_ROLE / LINKCTL_PLATFORM. When the event stream connects,
// the controller lists the switch's channels and bridges, and every stamped call it
// does not know is adopted: a call whose caller talks with agents goes on as it is;
// a transfer in flight is finished if the other platform already answered, else
// rolled back so the caller ends with an agent (first agent, or the group again).
// A call whose citizen is gone has its remaining legs hung up.

// foundLeg is a stamped channel found on the switch.
type foundLeg struct {
	ChannelInfo
	callID   string
	role     LegRole
	platform Platform
	bridge   string
}

type recoverMsg struct {
	legs   []foundLeg
	bridge *BridgeInfo
}

// recoverCalls adopts the stamped calls found on the switch that this controller
// does not run. It is called from the dispatcher when the event stream connects.
func (c *Controller) recoverCalls(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, c.teardownTimeout()*2)
	defer cancel()
	chans, err := c.pbx.Channels(rctx)
	if err != nil {
		c.log.Warn("recovery: list channels", zap.Error(err))
		return
	}
	bridges, err := c.pbx.Bridges(rctx)
	if err != nil {
		c.log.Warn("recovery: list bridges", zap.Error(err))
		return
	}
	inBridge := map[string]string{}
	bridgeByID := map[string]BridgeInfo{}
	for _, b := range bridges {
		bridgeByID[b.ID] = b
		for _, ch := range b.Channels {
			inBridge[ch] = b.ID
		}
	}
	groups := map[string][]foundLeg{}
	var order []string
	for _, ch := range chans {
		c.mu.Lock()
		known := c.byChannel[ch.ID] != nil
		c.mu.Unlock()
		if known {
			continue
		}
		id, err := c.pbx.GetVar(rctx, ch.ID, VarCallID)
		if err != nil || id == "" {
			continue // not ours (or gone meanwhile)
		}
		role, _ := c.pbx.GetVar(rctx, ch.ID, VarRole)
		platform, _ := c.pbx.GetVar(rctx, ch.ID, VarPlatform)
		if _, seen := groups[id]; !seen {
			order = append(order, id)
		}
		groups[id] = append(groups[id], foundLeg{ChannelInfo: ch, callID: id, role: LegRole(role), platform: Platform(platform), bridge: inBridge[ch.ID]})
	}
	for _, id := range order {
		c.mu.Lock()
		_, running := c.calls[id]
		c.mu.Unlock()
		if running {
			continue
		}
		var br *BridgeInfo
		if b, ok := bridgeByID[id+"-br"]; ok {
			br = &b
		}
		c.adopt(ctx, id, groups[id], br)
	}
}

// adopt starts a call goroutine for a call found on the switch.
func (c *Controller) adopt(parent context.Context, id string, legs []foundLeg, br *BridgeInfo) {
	ctx, cancel := context.WithCancelCause(parent)
	cl := &call{ctl: c, id: id, ctx: ctx, cancel: cancel, box: newMailbox(),
		log:  c.log.With(zap.String("call_id", id), zap.Bool("recovered", true)),
		legs: map[string]*leg{}, decoders: map[string]*featureDecoder{}, bridgeID: id + "-br", state: StateRouting}
	first := Platform12345
	for _, l := range legs {
		if l.role == RoleCitizen && l.platform != "" {
			first = l.platform
		}
	}
	cl.rec = CallRecord{ID: id, FirstPlatform: first, OwnerPlatform: first, State: StateRouting.String(), Started: time.Now(),
		Legs: []Leg{}, Softkeys: []Softkey{}, Transfers: []Transfer{}, EndCause: ""}
	if c.history != nil {
		hctx, cancel := context.WithTimeout(parent, c.teardownTimeout())
		prev, err := c.history.GetCall(hctx, id)
		cancel()
		if err == nil && prev.ID == id {
			cl.rec = prev // legs, softkeys, transfers and version go on
			cl.rec.Legs = slices.Clone(prev.Legs)
			cl.rec.Transfers = slices.Clone(prev.Transfers)
			cl.rec.Softkeys = slices.Clone(prev.Softkeys)
		} else if err != nil {
			cl.log.Warn("recovery: no earlier record", zap.Error(err))
		}
	}
	c.mu.Lock()
	c.calls[id] = cl
	for _, l := range legs {
		c.byChannel[l.ID] = cl
	}
	c.mu.Unlock()
	cl.box.put(recoverMsg{legs: legs, bridge: br})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cl.runRecovered()
	}()
}

func (cl *call) runRecovered() {
	cl.log.Info("adopting call after restart")
	cl.loop() // its first message rebuilds the call (recoverMsg)
}

// recover rebuilds the call's state from what the switch holds and settles any
// transfer that was in flight.
func (cl *call) recover(m recoverMsg) {
	pbx := cl.ctl.pbx
	var agentsUp, agentsRinging []*leg
	for _, f := range m.legs {
		platform := f.platform
		if platform == "" && strings.HasPrefix(string(f.role), "agent-") {
			platform = Platform(strings.TrimPrefix(string(f.role), "agent-"))
		}
		ep := endpointOf(f.Name)
		l := cl.adoptLeg(f.ID, f.role, platform, ep)
		up := f.State == "Up"
		l.answered = up
		if r := cl.recLeg(l); up && r.Answered == nil {
			r.Answered = now()
		}
		if r := cl.recLeg(l); f.bridge == cl.bridgeID && r.Bridged == nil {
			r.Bridged = now()
		}
		switch {
		case f.role == RoleCitizen:
			cl.caller = l
			cl.rec.CallerNumber = f.CallerNumber
			cl.rec.Answered = cl.recLeg(l).Answered
		case up:
			agentsUp = append(agentsUp, l)
		default:
			agentsRinging = append(agentsRinging, l)
		}
	}
	// Legs of the earlier record that are no longer on the switch went away meanwhile.
	for i := range cl.rec.Legs {
		if _, ok := cl.legs[cl.rec.Legs[i].ChannelID]; !ok && cl.rec.Legs[i].HungUp == nil {
			cl.rec.Legs[i].HungUp = now()
		}
	}
	if cl.caller == nil {
		cl.log.Info("recovery: citizen gone; releasing the agents")
		// A transfer the earlier record left pending ended with the caller.
		cl.settlePending(OutcomeCallerGone, "市民在 linkctl 重启期间挂机", nil)
		cl.end("recovered without citizen", OutcomeCallerGone)
		return
	}
	// No leg may keep ringing for a transfer nobody tracks any more.
	for _, l := range agentsRinging {
		cl.release(l, "normal")
		cl.markGone(l, 0, "rolled back after restart")
	}
	if m.bridge == nil {
		if err := cl.cmd("bridge create", func(ctx context.Context) error { return pbx.CreateBridge(ctx, cl.bridgeID) }); err != nil && !errors.Is(err, ErrConflict) {
			cl.log.Error("recovery: bridge", zap.Error(err))
		}
	}
	inBridge := func(l *leg) bool { return m.bridge != nil && slices.Contains(m.bridge.Channels, l.id) }
	var bridged []*leg
	for _, l := range agentsUp {
		if inBridge(l) {
			bridged = append(bridged, l)
		}
	}
	callerBridged := inBridge(cl.caller)
	switch {
	case callerBridged && len(bridged) == 1:
		cl.owner = bridged[0]
	case callerBridged && len(bridged) >= 2:
		// Three-way: the first-receiving platform's agent is the owner.
		for _, l := range bridged {
			if l.platform == cl.rec.FirstPlatform && cl.owner == nil {
				cl.owner = l
			} else if cl.other == nil {
				cl.other = l
			}
		}
		if cl.owner == nil {
			cl.owner, cl.other = bridged[0], bridged[1]
		}
	default:
		// A transfer was in flight: the caller waits alone. Prefer an agent of the
		// platform that does not have the caller's first agent (the target answered);
		// else the first agent; else ring the group again.
		var target, first *leg
		for _, l := range agentsUp {
			if l.platform != cl.rec.FirstPlatform && target == nil {
				target = l
			} else if first == nil {
				first = l
			}
		}
		keep := target
		if keep == nil {
			keep = first
		}
		if keep == nil {
			cl.log.Info("recovery: no agent left; ringing the group again")
			cl.settlePending(OutcomeFailed, "linkctl 重启，转接已回退，重新呼叫坐席组", nil)
			cl.state = StateRouting
			_ = cl.cmd("moh", func(ctx context.Context) error { return pbx.StartMOH(ctx, cl.caller.id, cl.ctl.cfg.MOHClass) })
			cl.startRouting(cl.rec.FirstPlatform)
			return
		}
		_ = pbx.StopMOH(cl.ctx, cl.caller.id)
		if err := cl.bridgeAdd(cl.caller.id, keep.id); err != nil {
			cl.log.Error("recovery: cannot bridge the caller", zap.Error(err))
		}
		for _, l := range agentsUp {
			if l != keep {
				cl.release(l, "normal")
			}
		}
		if keep == first && target == nil {
			_ = cl.cmd("failure notice", func(ctx context.Context) error {
				return pbx.Play(ctx, keep.id, cl.ctl.newID("p"), cl.ctl.cfg.FailureNotice)
			})
		}
		cl.owner = keep
		if keep == target {
			cl.settlePending(OutcomeCompleted, "重启恢复：对方平台已接听，转接完成", keep)
		} else {
			cl.settlePending(OutcomeFailed, "linkctl 重启，转接已回退，市民回到首接坐席", nil)
		}
		cl.log.Info("recovery: settled a transfer in flight", zap.String("agent_channel_id", keep.id), zap.Bool("completed", keep == target))
	}
	cl.state = StateTalking
	if cl.other != nil {
		cl.state = StateThreeWay
		// The resolution softkeys need the three-way transfer they settle: the pending
		// one of the earlier record, or a new entry saying it was found after a restart.
		idx := -1
		for i, t := range cl.rec.Transfers {
			if t.Outcome == OutcomePending && t.Mode == ModeThreeWay {
				idx = i
			}
		}
		if idx < 0 {
			idx = len(cl.rec.Transfers)
			cl.rec.Transfers = append(cl.rec.Transfers, Transfer{ID: cl.ctl.newID("t"), Mode: ModeThreeWay, Direction: DirectionFrom(cl.owner.platform),
				Requested: time.Now(), Answered: now(), TargetLeg: cl.other.id, ToAgent: cl.other.agent, Reason: "recovered after restart"})
		}
		cl.xfer = &transferRun{id: cl.rec.Transfers[idx].ID, mode: ModeThreeWay, idx: idx, dial: &dialSet{}}
		cl.decoders[cl.other.id] = cl.newDecoder()
	} else if n := len(cl.rec.Transfers); n > 0 && cl.rec.Transfers[n-1].Outcome == OutcomePending {
		// Talking with one agent and a transfer pending in the record: it completed if
		// that agent is on the transfer's target platform, else it was rolled back.
		if t := cl.rec.Transfers[n-1]; targetOf(t.Direction) == cl.owner.platform {
			cl.settlePending(OutcomeCompleted, "重启恢复：对方平台已接听，转接完成", cl.owner)
		} else {
			cl.settlePending(OutcomeFailed, "linkctl 重启，转接已回退", nil)
			// The agent waited for 110 (emergency) or for the consultation: say it is off.
			owner := cl.owner
			_ = cl.cmd("failure notice", func(ctx context.Context) error {
				return pbx.Play(ctx, owner.id, cl.ctl.newID("p"), cl.ctl.cfg.FailureNotice)
			})
		}
	}
	cl.rec.State = cl.state.String()
	cl.rec.OwnerPlatform = cl.owner.platform
	cl.decoders[cl.owner.id] = cl.newDecoder()
	cl.dirty = true
	// Events missed while nobody listened: a leg that vanished meanwhile.
	cl.reconcile()
}

// adoptLeg is addLeg for a channel the earlier record may already list.
func (cl *call) adoptLeg(id string, role LegRole, p Platform, endpoint string) *leg {
	for i, r := range cl.rec.Legs {
		if r.ChannelID == id {
			l := &leg{id: id, role: role, platform: p, endpoint: r.Endpoint, agent: r.Agent, idx: i}
			cl.legs[id] = l
			return l
		}
	}
	return cl.addLeg(id, role, p, endpoint, agentName(endpoint))
}

// settlePending closes the transfers the earlier record left pending.
func (cl *call) settlePending(o TransferOutcome, reason string, to *leg) {
	for i := range cl.rec.Transfers {
		t := &cl.rec.Transfers[i]
		if t.Outcome != OutcomePending {
			continue
		}
		t.Outcome, t.Reason, t.Completed = o, reason, now()
		if to != nil {
			t.TargetLeg, t.ToAgent = to.id, to.agent
			if t.Answered == nil {
				t.Answered = t.Completed
			}
		}
		cl.dirty = true
	}
}

// targetOf is the platform a direction hands the caller to.
func targetOf(d Direction) Platform {
	if d == Dir12345To110 {
		return Platform110
	}
	return Platform12345
}
