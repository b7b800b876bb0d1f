package callflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// failureOutcome classifies why all target legs failed.
func failureOutcome(legs []*leg) (TransferOutcome, string) {
	var busy, noAnswer bool
	for _, l := range legs {
		switch {
		case l.cause == 17 || l.status == "BUSY":
			busy = true
		case l.cause == 19 || l.cause == 18 || l.status == "NOANSWER":
			noAnswer = true
		}
	}
	switch {
	case noAnswer:
		return OutcomeNoAnswer, "对方平台无人接听"
	case busy:
		return OutcomeBusy, "对方平台坐席忙"
	default:
		return OutcomeUnavailable, "对方平台暂时无法接通"
	}
}

// ErrNotConnected is returned by Softkey when the agent who pressed is not connected
// with the citizen now (a leg that only rang, hung up, or an agent not in the call):
// such an agent may not act on the call.
var ErrNotConnected = errors.New("agent not connected with the citizen")

// connected reports whether l is an agent leg talking with the citizen now: the owner
// or, in a three-way, the other platform's agent; answered and not gone. During a
// one-key transfer the owner (the first agent, who started it) stays connected until
// the target answers, so that agent alone may cancel.
func (cl *call) connected(l *leg) bool {
	return l != nil && l.role != RoleCitizen && l.answered && !l.gone && (l == cl.owner || l == cl.other)
}

// sameAgent matches a requested agent id against a leg ("a110-2001" or "PJSIP/a110-2001").
func (l *leg) sameAgent(agent string) bool {
	return agent != "" && (l.agent == agent || l.endpoint == agent || agentName(l.endpoint) == agent)
}

// actingLeg finds the agent leg a softkey came from and checks that it may act: the
// controller is the authority on who is connected with the citizen. A request that
// names neither an agent nor an agent channel comes from in-process code (tests,
// tools; the HTTP API always names one) and acts as the owner. The error wraps
// ErrNotConnected and the reason is zh-CN for the agent.
func (cl *call) actingLeg(req SoftkeyRequest) (*leg, string, error) {
	l := cl.legs[req.ChannelID]
	if l != nil && l.role == RoleCitizen {
		l = nil // the caller's channel names the call, not who pressed
	}
	switch {
	case l == nil && req.Agent == "":
		return cl.owner, "", nil
	case l != nil && req.Agent != "" && !l.sameAgent(req.Agent):
		return nil, "坐席与通话段不符，不能操作软按键",
			fmt.Errorf("agent %q does not own channel %s: %w", req.Agent, l.id, ErrNotConnected)
	case l == nil:
		for _, c := range []*leg{cl.owner, cl.other} {
			if cl.connected(c) && c.sameAgent(req.Agent) {
				return c, "", nil
			}
		}
		return nil, "坐席 " + req.Agent + " 未与市民通话，不能操作该通话",
			fmt.Errorf("agent %q in call %s: %w", req.Agent, cl.id, ErrNotConnected)
	case !cl.connected(l):
		return nil, "坐席 " + l.agent + " 未与市民通话（未接听或已挂断），不能操作该通话",
			fmt.Errorf("agent %q channel %s in call %s: %w", l.agent, l.id, cl.id, ErrNotConnected)
	}
	return l, "", nil
}

func (cl *call) dtmf(e DTMFReceived) {
	d := cl.decoders[e.ChannelID]
	if d == nil {
		return // the citizen's digits are never softkeys
	}
	k, ok := d.feed(e.Digit, time.Now())
	if !ok {
		return
	}
	l := cl.legs[e.ChannelID]
	res, _ := cl.softkey(SoftkeyRequest{CallID: cl.id, ChannelID: e.ChannelID, Agent: l.agent, Key: k, Source: SourceDTMF})
	if !res.Accepted && cl.state != StateEnded {
		pbx := cl.ctl.pbx
		_ = cl.cmd("refused notice", func(ctx context.Context) error {
			return pbx.Play(ctx, l.id, cl.ctl.newID("p"), cl.ctl.cfg.RefusedNotice)
		})
	}
}

// phoneTransfer: the agent pressed the phone's own transfer key (REFER, ari-only).
func (cl *call) phoneTransfer(e TransferRequested) {
	l := cl.legs[e.ChannelID]
	if l == nil || l != cl.owner {
		_ = cl.cmd("transfer progress", func(ctx context.Context) error {
			return cl.ctl.pbx.TransferProgress(ctx, e.ChannelID, "channel_declined")
		})
		return
	}
	res, _ := cl.softkey(SoftkeyRequest{CallID: cl.id, ChannelID: l.id, Agent: l.agent, Key: KeyTransfer, Source: SourceRefer})
	state := "channel_progress"
	if !res.Accepted || res.Duplicate {
		state = "channel_declined"
	} else if cl.xfer != nil {
		cl.xfer.referChan = l.id
	}
	_ = cl.cmd("transfer progress", func(ctx context.Context) error { return cl.ctl.pbx.TransferProgress(ctx, l.id, state) })
}

// softkey validates and executes one softkey. A press by an agent not connected with
// the citizen is refused with an error wrapping ErrNotConnected and is not recorded
// as that agent's press (it is logged).
func (cl *call) softkey(req SoftkeyRequest) (res SoftkeyResult, err error) {
	at := time.Now()
	key := req.Key
	if key == KeyTransfer && req.Emergency {
		key = KeyEmergency
	}
	in, _ := key.input()
	from, reason, err := cl.actingLeg(req)
	if err != nil {
		cl.log.Warn("softkey refused: agent not connected", zap.String("key", string(key)), zap.String("agent", req.Agent),
			zap.String("channel_id", req.ChannelID), zap.String("source", req.Source), zap.String("state", cl.state.String()), zap.Error(err))
		return SoftkeyResult{Reason: reason}, err
	}
	agent := req.Agent
	if agent == "" && from != nil {
		agent = from.agent
	}
	defer func() {
		if res.Duplicate {
			return // a double press is answered, not recorded twice
		}
		cl.rec.Softkeys = append(cl.rec.Softkeys, Softkey{At: at, Agent: agent, Key: string(key), Source: req.Source, Accepted: res.Accepted, Reason: res.Reason})
		cl.dirty = true
		if res.Accepted {
			cl.lastKey, cl.lastAt = key, at
		}
		cl.log.Info("softkey", zap.String("key", string(key)), zap.String("agent", agent), zap.String("source", req.Source),
			zap.Bool("accepted", res.Accepted), zap.String("reason", res.Reason), zap.String("ticket_id", req.TicketID))
	}()
	// A double press of the action already running (or just done) acts once.
	if dup, id := cl.isDuplicate(key, at); dup {
		return SoftkeyResult{Accepted: true, Duplicate: true, TransferID: id, Reason: "操作已在处理中，重复按键已忽略"}, nil
	}
	if _, err := transition(cl.state, in); err != nil {
		var te *TransitionError
		errors.As(err, &te)
		return SoftkeyResult{Reason: te.Reason}, nil
	}
	switch key {
	case KeyTransfer, KeyThreeWay, KeyEmergency:
		return cl.startTransfer(key, req, from), nil
	case KeyCancel:
		id := cl.xfer.id
		cl.cancelTransfer()
		return SoftkeyResult{Accepted: true, TransferID: id}, nil
	case KeyHandOver, KeyKeep, KeyUndetermined:
		id := cl.rec.Transfers[cl.xfer.idx].ID
		cl.resolve(key)
		return SoftkeyResult{Accepted: true, TransferID: id}, nil
	}
	return SoftkeyResult{Reason: "未知的操作键"}, nil
}

func (cl *call) isDuplicate(key Key, at time.Time) (bool, string) {
	if cl.xfer != nil {
		running := map[StateKey]Key{{StateTransferRinging, ModeOneKey}: KeyTransfer, {StateConsultRinging, ModeThreeWay}: KeyThreeWay,
			{StateEmergencyRinging, ModeEmergency}: KeyEmergency, {StateThreeWay, ModeThreeWay}: KeyThreeWay}
		if running[StateKey{cl.state, cl.xfer.mode}] == key {
			return true, cl.xfer.id
		}
	}
	// A repeated resolution or cancel right after it acted is the same press; a new
	// transfer after a failed one is a retry and must act.
	settling := key == KeyHandOver || key == KeyKeep || key == KeyUndetermined || key == KeyCancel
	if settling && key == cl.lastKey && at.Sub(cl.lastAt) < 3*time.Second {
		id := ""
		if n := len(cl.rec.Transfers); n > 0 {
			id = cl.rec.Transfers[n-1].ID
		}
		return true, id
	}
	return false, ""
}

// StateKey pairs a state with a transfer mode (for the double-press table).
type StateKey struct {
	State CallState
	Mode  TransferMode
}

func (cl *call) startTransfer(key Key, req SoftkeyRequest, from *leg) SoftkeyResult {
	cfg := cl.ctl.cfg
	owner := cl.rec.OwnerPlatform
	dir := DirectionFrom(owner)
	mode := map[Key]TransferMode{KeyTransfer: ModeOneKey, KeyThreeWay: ModeThreeWay, KeyEmergency: ModeEmergency}[key]
	category := req.Category
	target := owner.Other()
	eps := cl.groupFor(target).Agents
	timeout := cfg.TransferRingTimeout.D()
	if mode == ModeEmergency {
		if owner == Platform110 {
			return SoftkeyResult{Reason: "通话已在110平台，无需紧急转110"}
		}
		if len(cfg.Emergency.Agents) > 0 {
			eps = cfg.Emergency.Agents
		}
		timeout = cfg.Emergency.RingTimeout.D()
		category = ""
	} else {
		if category == "" && req.Source != SourceHTTP {
			category = cl.rec.Category
			if category == "" {
				category = cfg.DTMFCategory[string(dir)]
			}
		}
		matters := cl.ctl.matters.Load()
		if category == "" {
			return SoftkeyResult{Reason: fmt.Sprintf("请选择转办事项类别（%s），可选：%s", dir, strings.Join(matters.Names(string(dir)), "、"))}
		}
		m, err := matters.Lookup(string(dir), category)
		if err != nil {
			return SoftkeyResult{Reason: fmt.Sprintf("事项「%s」不属于%s转办事项清单，可选：%s", category, dir, strings.Join(matters.Names(string(dir)), "、"))}
		}
		category = m.Name()
	}
	if down, reason := cl.targetUnreachable(target, eps); down {
		// Refused at once: the caller stays with the first agent, who hears why.
		return SoftkeyResult{Reason: reason}
	}
	if err := cl.setState(map[Key]Input{KeyTransfer: InTransfer, KeyThreeWay: InThreeWay, KeyEmergency: InEmergency}[key]); err != nil {
		return SoftkeyResult{Reason: refusal(cl.state, InTransfer)}
	}
	if req.TicketID != "" {
		if owner == Platform12345 {
			cl.rec.Ticket12345 = req.TicketID
		} else {
			cl.rec.Ticket110 = req.TicketID
		}
	}
	if category != "" {
		cl.rec.Category = category
	}
	if mode == ModeEmergency {
		cl.rec.Emergency = true
	}
	ticket := cl.rec.Ticket12345
	if owner == Platform110 {
		ticket = cl.rec.Ticket110
	}
	fromAgent := ""
	if from != nil {
		fromAgent = from.agent
	}
	cl.gen++
	x := &transferRun{id: cl.ctl.newID("t"), mode: mode, idx: len(cl.rec.Transfers), key: key}
	meta := Metadata{CallID: cl.id, TransferID: x.id, Ticket: ticket, Category: category, Agent: fromAgent, Origin: owner,
		Role: AgentRole(target), Mode: mode, Emergency: mode == ModeEmergency, Flags: cl.flags()}
	if cl.rec.Confidential && target == Platform12345 {
		// Restricted police matter: 12345 learns that a call comes and that it is
		// flagged, not the 警单号, the category or who sends it.
		meta.Ticket, meta.Category, meta.Agent = "", "", ""
		cl.log.Info("confidential call: linkage headers to 12345 reduced", zap.String("flags", meta.Flags))
	}
	x.dial = &dialSet{platform: target, endpoints: eps, timeout: timeout, gen: cl.gen, meta: meta}
	cl.xfer = x
	cl.rec.Transfers = append(cl.rec.Transfers, Transfer{ID: x.id, Mode: mode, Direction: dir, Category: category,
		Emergency: mode == ModeEmergency, Requested: time.Now(), FromAgent: fromAgent})
	pbx := cl.ctl.pbx
	if mode == ModeOneKey {
		// The caller leaves the bridge and hears the announcement, then hold music: never silence.
		x.playbackID = cl.ctl.newID("p")
		media := cfg.Announcement
		if media == "" {
			media = cfg.AnnouncementTo[string(target)]
		}
		if media == "" {
			media = cfg.AnnouncementTone
		}
		_ = cl.cmd("bridge remove", func(ctx context.Context) error { return pbx.RemoveFromBridge(ctx, cl.bridgeID, cl.caller.id) })
		if err := cl.cmd("announcement", func(ctx context.Context) error { return pbx.Play(ctx, cl.caller.id, x.playbackID, media) }); err != nil {
			cl.announcementDone()
		} else {
			cl.after(cfg.AnnouncementMax.D(), timerAnnouncement, x.dial.gen)
		}
	}
	cl.log.Info("transfer started", zap.String("transfer_id", x.id), zap.String("mode", string(mode)), zap.String("direction", string(dir)),
		zap.String("category", category), zap.String("ticket_id", ticket))
	cl.dialNext(x.dial)
	return SoftkeyResult{Accepted: true, TransferID: x.id}
}

// announcementDone switches the waiting caller from the announcement to hold music.
func (cl *call) announcementDone() {
	x := cl.xfer
	if x == nil || x.mohOn || cl.state != StateTransferRinging {
		return
	}
	x.mohOn = true
	pbx := cl.ctl.pbx
	_ = cl.cmd("moh", func(ctx context.Context) error { return pbx.StartMOH(ctx, cl.caller.id, cl.ctl.cfg.MOHClass) })
	if x.playbackID != "" {
		id := x.playbackID
		x.playbackID = ""
		_ = cl.cmd("stop announcement", func(ctx context.Context) error {
			if err := pbx.StopPlayback(ctx, id); err != nil && !errors.Is(err, ErrChannelGone) && !errors.Is(err, ErrBadRequest) {
				return err
			}
			return nil
		})
	}
}

// stopCallerWaiting ends announcement and MOH before the caller rejoins a bridge.
func (cl *call) stopCallerWaiting() {
	x := cl.xfer
	pbx := cl.ctl.pbx
	if x.playbackID != "" {
		id := x.playbackID
		x.playbackID = ""
		_ = pbx.StopPlayback(cl.ctx, id)
	}
	if x.mohOn {
		x.mohOn = false
		_ = cl.cmd("stop moh", func(ctx context.Context) error { return pbx.StopMOH(ctx, cl.caller.id) })
	}
}

func (cl *call) targetAnswered(l *leg) {
	x := cl.xfer
	from := cl.state
	if err := cl.setState(InTargetAnswered); err != nil {
		cl.release(l, "normal")
		return
	}
	for _, o := range x.dial.legs {
		if o != l {
			cl.release(o, "normal")
		}
	}
	t := &cl.rec.Transfers[x.idx]
	t.Answered = now()
	t.TargetLeg = l.id
	t.ToAgent = l.agent
	cl.decoders[l.id] = cl.newDecoder()
	pbx := cl.ctl.pbx
	switch from {
	case StateTransferRinging, StateEmergencyRinging:
		var err error
		if from == StateTransferRinging {
			cl.stopCallerWaiting()
			if err = cl.bridgeAdd(cl.caller.id, l.id); err != nil {
				cl.log.Error("cannot bridge caller with the new agent", zap.Error(err))
			}
		} else {
			// Emergency: 110 joins first, then the first agent leaves: the caller always hears someone.
			err = cl.bridgeAdd(l.id)
		}
		if errors.Is(err, ErrChannelGone) && cl.owner != nil {
			cl.answeredLegGone(l, from == StateTransferRinging)
			return
		}
		if x.referChan != "" {
			// Tell the agent's phone before its channel goes away.
			_ = cl.cmd("transfer progress", func(ctx context.Context) error { return pbx.TransferProgress(ctx, x.referChan, "channel_answered") })
			x.referChan = ""
		}
		if cl.owner != nil {
			old := cl.owner
			delete(cl.decoders, old.id)
			_ = cl.cmd("bridge remove", func(ctx context.Context) error { return pbx.RemoveFromBridge(ctx, cl.bridgeID, old.id) })
			cl.release(old, "normal")
		}
		cl.owner = l
		cl.rec.OwnerPlatform = l.platform
		cl.finishTransfer(OutcomeCompleted, "")
	case StateConsultRinging:
		_ = cl.bridgeAdd(l.id)
		cl.other = l
	}
	cl.log.Info("transfer answered", zap.String("transfer_id", x.id), zap.String("agent", l.agent), zap.String("agent_channel_id", l.id))
}

// answeredLegGone: the other platform's agent answered but was gone before the
// caller could be moved (the switch answers the bridge add "Channel not found").
// The first agent has not been released yet: the caller goes back to it instead
// of being left alone, and the agent is told (issue 4 fault: 404 race).
func (cl *call) answeredLegGone(l *leg, oneKey bool) {
	x := cl.xfer
	cl.log.Warn("new agent gone before the caller was moved; caller back with the first agent",
		zap.String("transfer_id", x.id), zap.String("agent_channel_id", l.id))
	delete(cl.decoders, l.id)
	cl.release(l, "normal")
	if oneKey {
		if err := cl.bridgeAdd(cl.caller.id); err != nil {
			cl.log.Error("cannot bring the caller back to the first agent", zap.Error(err))
		}
	}
	pbx := cl.ctl.pbx
	if x.referChan != "" {
		ch := x.referChan
		_ = cl.cmd("transfer progress", func(ctx context.Context) error { return pbx.TransferProgress(ctx, ch, "channel_unavailable") })
	}
	cl.finishTransfer(OutcomeFailed, "对方坐席接听后即挂断，市民已回到首接坐席")
	owner := cl.owner
	_ = cl.cmd("failure notice", func(ctx context.Context) error {
		return pbx.Play(ctx, owner.id, cl.ctl.newID("p"), cl.ctl.cfg.FailureNotice)
	})
}

func (cl *call) targetLegFailed() {
	x := cl.xfer
	if !allGone(x.dial.legs) {
		return
	}
	outcome, reason := failureOutcome(x.dial.legs)
	cl.transferFailed(outcome, reason, true)
}

// transferFailed brings the caller back to the first agent (or its group) and tells the agent why.
func (cl *call) transferFailed(outcome TransferOutcome, reason string, notify bool) {
	x := cl.xfer
	in := InTargetFailed
	if outcome == OutcomeCancelled {
		in = InCancel
	}
	if cl.owner == nil {
		in = InRequeue
	}
	if err := cl.setState(in); err != nil {
		cl.log.Error("transfer failed", zap.Error(err))
		return
	}
	pbx := cl.ctl.pbx
	if x.mode == ModeOneKey || cl.owner == nil {
		cl.stopCallerWaiting()
	}
	cl.finishTransfer(outcome, reason)
	if x.referChan != "" {
		_ = cl.cmd("transfer progress", func(ctx context.Context) error { return pbx.TransferProgress(ctx, x.referChan, "channel_unavailable") })
	}
	if cl.owner == nil {
		cl.log.Info("transfer failed after the first agent left; ringing the group again", zap.String("reason", reason))
		_ = cl.cmd("ring caller", func(ctx context.Context) error { return pbx.StartMOH(ctx, cl.caller.id, cl.ctl.cfg.MOHClass) })
		cl.startRouting(cl.rec.OwnerPlatform)
		return
	}
	if x.mode == ModeOneKey {
		// The first agent stayed in the bridge; adding it again would make it leave and re-enter (t12).
		if err := cl.bridgeAdd(cl.caller.id); err != nil {
			cl.log.Error("cannot bring the caller back to the first agent", zap.Error(err))
		}
	}
	if notify {
		owner := cl.owner
		_ = cl.cmd("failure notice", func(ctx context.Context) error {
			return pbx.Play(ctx, owner.id, cl.ctl.newID("p"), cl.ctl.cfg.FailureNotice)
		})
	}
	cl.log.Info("transfer failed; caller back with the first agent", zap.String("transfer_id", x.id), zap.String("outcome", string(outcome)), zap.String("reason", reason))
}

func (cl *call) cancelTransfer() {
	x := cl.xfer
	for _, l := range x.dial.legs {
		cl.release(l, "normal")
	}
	cl.transferFailed(OutcomeCancelled, "坐席取消了转接", false)
}

// resolve ends a three-way call: hand over, keep, or undetermined.
func (cl *call) resolve(key Key) {
	in := map[Key]Input{KeyHandOver: InHandOver, KeyKeep: InKeep, KeyUndetermined: InUndetermined}[key]
	if err := cl.setState(in); err != nil {
		return
	}
	handOver := key == KeyHandOver
	outcome, reason := OutcomeKept, "首接平台保留"
	if key == KeyHandOver {
		outcome, reason = OutcomeHandedOver, "移交对方平台"
	}
	if key == KeyUndetermined {
		// The platform that first received the call keeps it.
		handOver = cl.owner.platform != cl.rec.FirstPlatform
		outcome, reason = OutcomeUndetermined, "待定：由首接平台（"+string(cl.rec.FirstPlatform)+"）保留"
	}
	leaving := cl.other
	if handOver {
		leaving = cl.owner
		cl.owner, cl.other = cl.other, cl.owner
	}
	cl.other = nil
	delete(cl.decoders, leaving.id)
	pbx := cl.ctl.pbx
	_ = cl.cmd("bridge remove", func(ctx context.Context) error { return pbx.RemoveFromBridge(ctx, cl.bridgeID, leaving.id) })
	cl.release(leaving, "normal")
	cl.rec.OwnerPlatform = cl.owner.platform
	cl.finishTransfer(outcome, reason)
}

func (cl *call) finishTransfer(o TransferOutcome, reason string) {
	x := cl.xfer
	if x == nil {
		return
	}
	t := &cl.rec.Transfers[x.idx]
	t.Outcome = o
	t.Reason = reason
	t.Completed = now()
	cl.xfer = nil
	cl.dirty = true
	if o == OutcomeCallerGone || o == OutcomeFailed {
		for _, l := range x.dial.legs {
			if !l.answered {
				cl.release(l, "normal") // no orphan ringing
			}
		}
	}
}

// bridgeAdd adds channels to the call's bridge. A bridge destroyed under the call
// (by an operator or a PBX fault) is made again with the agents who belong in it.
func (cl *call) bridgeAdd(ids ...string) error {
	pbx := cl.ctl.pbx
	err := cl.cmd("bridge add", func(ctx context.Context) error { return pbx.AddToBridge(ctx, cl.bridgeID, ids...) })
	if !errors.Is(err, ErrBridgeGone) {
		return err
	}
	cl.log.Warn("call bridge vanished; making it again", zap.String("bridge_id", cl.bridgeID))
	if err := cl.cmd("bridge create", func(ctx context.Context) error { return pbx.CreateBridge(ctx, cl.bridgeID) }); err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	all := slices.Clone(ids)
	for _, l := range []*leg{cl.owner, cl.other} {
		if l != nil && !l.gone && !l.released && !slices.Contains(all, l.id) {
			all = append(all, l.id)
		}
	}
	return cl.cmd("bridge add", func(ctx context.Context) error { return pbx.AddToBridge(ctx, cl.bridgeID, all...) })
}
