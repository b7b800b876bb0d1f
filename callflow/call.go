package callflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"linkctl/config"
)

// Messages a call's goroutine receives besides PBX events.
type (
	softkeyMsg struct {
		req   SoftkeyRequest
		reply chan SoftkeyResult
	}
	timerMsg struct {
		kind timerKind
		gen  int
	}
	reconcileMsg struct{}
)

type timerKind int

const (
	timerRouting timerKind = iota + 1
	timerReroute
	timerTarget
	timerAnnouncement
)

// leg is one channel of the call.
type leg struct {
	id       string
	role     LegRole
	platform Platform
	endpoint string
	agent    string
	idx      int // index in rec.Legs
	answered bool
	gone     bool // hung up or failed
	released bool // we hung it up on purpose: its hangup events are expected
	status   string
	cause    int
}

// dialSet is a group of legs rung together (ring-all) or one after the other (round-robin).
type dialSet struct {
	platform  Platform
	endpoints []string
	next      int // round-robin: next endpoint to try
	sequence  bool
	timeout   time.Duration
	legs      []*leg
	gen       int
	meta      Metadata
}

// transferRun is the transfer in progress.
type transferRun struct {
	id         string
	mode       TransferMode
	idx        int // index in rec.Transfers
	dial       *dialSet
	playbackID string
	mohOn      bool
	referChan  string // phone transfer key: answer progress on this channel
	key        Key
}

// call is one citizen call; only its own goroutine touches it.
type call struct {
	ctl    *Controller
	id     string
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	box    *mailbox

	state    CallState
	rec      CallRecord
	dirty    bool
	caller   *leg
	owner    *leg // agent who has the caller
	other    *leg // three-way: the other platform's agent
	legs     map[string]*leg
	bridgeID string
	routing  *dialSet
	xfer     *transferRun
	gen      int
	timers   []*time.Timer
	decoders map[string]*featureDecoder
	lastKey  Key
	lastAt   time.Time
	endOnce  sync.Once
}

func (c *Controller) startCall(parent context.Context, ev StasisStart, platform Platform) {
	id := c.newID("c")
	ctx, cancel := context.WithCancelCause(parent)
	now := time.Now()
	cl := &call{
		ctl: c, id: id, ctx: ctx, cancel: cancel, box: newMailbox(),
		log:      c.log.With(zap.String("call_id", id), zap.String("caller_channel_id", ev.ChannelID)),
		legs:     map[string]*leg{},
		decoders: map[string]*featureDecoder{},
		bridgeID: id + "-br",
		state:    StateRouting,
	}
	cl.rec = CallRecord{ID: id, FirstPlatform: platform, OwnerPlatform: platform, CallerNumber: ev.CallerNumber,
		State: StateRouting.String(), Started: now, Legs: []Leg{}, Softkeys: []Softkey{}, Transfers: []Transfer{}}
	cl.caller = cl.addLeg(ev.ChannelID, RoleCitizen, platform, endpointOf(ev.Name), "")
	c.mu.Lock()
	c.calls[id] = cl
	c.byChannel[ev.ChannelID] = cl
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cl.run()
	}()
}

func (cl *call) run() {
	cl.log.Info("call started", zap.String("platform", string(cl.rec.FirstPlatform)))
	cl.begin()
	cl.flush()
	for cl.state != StateEnded {
		select {
		case <-cl.ctx.Done():
			// Controller stopping: leave every channel as it is (a restart picks them up).
			cl.stopTimers()
			cl.log.Info("call released by controller", zap.Error(context.Cause(cl.ctx)))
			return
		case <-cl.box.signal:
			for _, m := range cl.box.take() {
				cl.handle(m)
				if cl.state == StateEnded {
					break
				}
			}
			cl.flush()
		}
	}
	// Answer softkeys that raced with the end.
	for _, m := range cl.box.take() {
		if sk, ok := m.(softkeyMsg); ok {
			sk.reply <- SoftkeyResult{CallID: cl.id, Reason: "通话已结束"}
		}
	}
}

// cmd runs one PBX command under the request deadline the adapter applies and logs failures.
func (cl *call) cmd(op string, f func(ctx context.Context) error) error {
	err := f(cl.ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		cl.log.Warn("pbx command failed", zap.String("op", op), zap.Error(err))
	}
	return err
}

func (cl *call) addLeg(id string, role LegRole, p Platform, endpoint, agent string) *leg {
	l := &leg{id: id, role: role, platform: p, endpoint: endpoint, agent: agent, idx: len(cl.rec.Legs)}
	cl.legs[id] = l
	cl.rec.Legs = append(cl.rec.Legs, Leg{ChannelID: id, Role: role, Endpoint: endpoint, Agent: agent, Created: time.Now()})
	cl.dirty = true
	return l
}

func (cl *call) recLeg(l *leg) *Leg { return &cl.rec.Legs[l.idx] }

func now() *time.Time { t := time.Now(); return &t }

// setState applies one transition of the table.
func (cl *call) setState(in Input) error {
	to, err := transition(cl.state, in)
	if err != nil {
		return err
	}
	if to != cl.state {
		cl.log.Debug("state", zap.Stringer("from", cl.state), zap.Stringer("to", to), zap.Stringer("input", in))
	}
	cl.state = to
	cl.rec.State = to.String()
	cl.dirty = true
	return nil
}

func (cl *call) flush() {
	if !cl.dirty {
		return
	}
	cl.dirty = false
	cl.rec.Version++
	cl.ctl.publish(cl.snapshot(), cl.state == StateEnded)
}

func (cl *call) snapshot() CallRecord {
	r := cl.rec
	r.Legs = slices.Clone(cl.rec.Legs)
	r.Softkeys = slices.Clone(cl.rec.Softkeys)
	r.Transfers = slices.Clone(cl.rec.Transfers)
	if cl.rec.InboundHeaders != nil {
		r.InboundHeaders = make(map[string]string, len(cl.rec.InboundHeaders))
		for k, v := range cl.rec.InboundHeaders {
			r.InboundHeaders[k] = v
		}
	}
	return r
}

func (cl *call) after(d time.Duration, kind timerKind, gen int) {
	box := cl.box
	cl.timers = append(cl.timers, time.AfterFunc(d, func() { box.put(timerMsg{kind: kind, gen: gen}) }))
}

func (cl *call) stopTimers() {
	for _, t := range cl.timers {
		t.Stop()
	}
	cl.timers = nil
}

// begin answers the caller, stamps it, reads inbound metadata and rings the group.
func (cl *call) begin() {
	pbx := cl.ctl.pbx
	if err := cl.cmd("answer", func(ctx context.Context) error { return pbx.Answer(ctx, cl.caller.id) }); err != nil {
		if errors.Is(err, ErrChannelGone) {
			cl.end("caller gone before answer", OutcomeCallerGone)
			return
		}
	}
	cl.caller.answered = true
	cl.rec.Answered = now()
	cl.recLeg(cl.caller).Answered = cl.rec.Answered
	_ = cl.cmd("ring caller", func(ctx context.Context) error { return pbx.Ring(ctx, cl.caller.id) })
	// Stamp the caller so that a restarted controller finds the call again.
	for _, kv := range [][2]string{{VarCallID, cl.id}, {VarRole, string(RoleCitizen)}, {VarPlatform, string(cl.rec.FirstPlatform)}} {
		_ = cl.cmd("stamp", func(ctx context.Context) error { return pbx.SetVar(ctx, cl.caller.id, kv[0], kv[1]) })
	}
	cl.readInboundHeaders()
	if err := cl.cmd("bridge create", func(ctx context.Context) error { return pbx.CreateBridge(ctx, cl.bridgeID) }); err != nil {
		cl.log.Error("cannot create the call bridge", zap.Error(err))
	}
	cl.startRouting(cl.rec.FirstPlatform)
}

func (cl *call) readInboundHeaders() {
	pbx := cl.ctl.pbx
	read := func(h string) (string, bool) {
		var v string
		err := cl.cmd("read header", func(ctx context.Context) error {
			var err error
			v, err = pbx.GetVar(ctx, cl.caller.id, "PJSIP_HEADER(read,"+h+")")
			return err
		})
		return v, err == nil && v != ""
	}
	// An absent header answers 500: read the call id first and stop if it is not there.
	first, ok := read(HeaderCallID)
	if !ok {
		return
	}
	hs := map[string]string{HeaderCallID: first}
	for _, h := range MetadataHeaders[1:] {
		if v, ok := read(h); ok {
			hs[h] = v
		}
	}
	cl.rec.InboundHeaders = hs
	if cat := hs[HeaderCategory]; cat != "" {
		cl.rec.Category = cat
	}
	ticket := hs[HeaderTicket]
	if ticket == "" && hs[HeaderUUI] != "" {
		ticket = DecodeUUI(hs[HeaderUUI])
	}
	switch Platform(hs[HeaderOrigin]) {
	case Platform12345:
		cl.rec.Ticket12345 = ticket
	case Platform110:
		cl.rec.Ticket110 = ticket
	}
	cl.rec.Emergency = hs[HeaderEmergency] == "1"
	cl.dirty = true
	cl.log.Info("inbound linkage metadata", zap.String("origin_call_id", first), zap.String("ticket_id", ticket))
}

func (cl *call) groupFor(p Platform) config.GroupConfig { return cl.ctl.cfg.Groups[string(p)] }

// startRouting rings the agent group of platform p for the caller.
func (cl *call) startRouting(p Platform) {
	g := cl.groupFor(p)
	cl.gen++
	ds := &dialSet{platform: p, endpoints: g.Agents, sequence: g.Strategy == "round-robin", timeout: g.RingTimeout.D(), gen: cl.gen,
		meta: Metadata{CallID: cl.id, Role: AgentRole(p), Origin: p}}
	if ds.sequence && len(g.Agents) > 0 {
		ds.next = cl.ctl.nextAgent(p, len(g.Agents))
	}
	cl.routing = ds
	cl.dialNext(ds)
}

// dialNext originates the legs of a dial set: all (ring-all) or the next one (round-robin).
// It returns false when there is nothing left to try.
func (cl *call) dialNext(ds *dialSet) bool {
	var eps []string
	if ds.sequence {
		tried := len(ds.legs)
		if tried >= len(ds.endpoints) {
			return false
		}
		eps = []string{ds.endpoints[(ds.next+tried)%len(ds.endpoints)]}
	} else {
		if len(ds.legs) > 0 {
			return false
		}
		eps = ds.endpoints
	}
	kind := timerRouting
	if ds != cl.routing {
		kind = timerTarget
	}
	cl.after(ds.timeout+2*time.Second, kind, ds.gen) // safety net if the PBX never reports the end
	for _, ep := range eps {
		cl.originate(ds, ep)
	}
	return true
}

func (cl *call) originate(ds *dialSet, endpoint string) {
	id := cl.ctl.newID("a")
	l := cl.addLeg(id, AgentRole(ds.platform), ds.platform, endpoint, agentName(endpoint))
	ds.legs = append(ds.legs, l)
	cl.ctl.route(id, cl) // subscribe before execute
	vars := ds.meta.Variables()
	vars[VarPlatform] = string(ds.platform)
	if strings.HasPrefix(endpoint, "PJSIP/") {
		// The phone's own transfer key reaches the controller as ChannelTransfer (t14).
		vars["PJSIP_TRANSFER_HANDLING()"] = "ari-only"
	}
	req := OriginateRequest{ChannelID: id, Endpoint: endpoint, AppArgs: []string{"outbound", string(AgentRole(ds.platform)), cl.id},
		CallerID: cl.rec.CallerNumber, Timeout: ds.timeout, Originator: cl.caller.id, Variables: vars}
	err := cl.cmd("originate", func(ctx context.Context) error { return cl.ctl.pbx.Originate(ctx, req) })
	if err != nil {
		// Allocation failed and friends: the endpoint cannot be reached now.
		l.status = "CHANUNAVAIL"
		cl.legFailed(l, 0, err.Error())
	}
}

// handle is the one place a call reacts to anything.
func (cl *call) handle(m any) {
	switch e := m.(type) {
	case softkeyMsg:
		res := cl.softkey(e.req)
		res.CallID = cl.id
		res.State = cl.state.String()
		e.reply <- res
	case timerMsg:
		cl.timer(e)
	case reconcileMsg:
		cl.reconcile()
	case recoverMsg:
		cl.recover(e)
	case StasisStart:
		cl.stasisStart(e)
	case DTMFReceived:
		cl.dtmf(e)
	case DialStatus:
		if l := cl.legs[e.ChannelID]; l != nil && !l.answered {
			l.status = e.Status
			switch e.Status {
			case "BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION", "CANCEL":
				cl.legFailed(l, 0, e.Status)
			}
		}
	case ChannelStateChange:
	case HangupRequest:
		cl.legGone(e.ChannelID, e.Cause, "")
	case StasisEnd:
		cl.legGone(e.ChannelID, 0, "")
	case ChannelDestroyed:
		cl.legGone(e.ChannelID, e.Cause, e.CauseText)
	case EnteredBridge:
		if l := cl.legs[e.ChannelID]; l != nil {
			r := cl.recLeg(l)
			if r.Bridged == nil {
				r.Bridged = now()
			}
			r.Left = nil // Left is the last time it left
			cl.dirty = true
		}
	case LeftBridge:
		if l := cl.legs[e.ChannelID]; l != nil {
			cl.recLeg(l).Left = now()
			cl.dirty = true
		}
	case PlaybackFinished:
		if cl.xfer != nil && e.PlaybackID == cl.xfer.playbackID {
			cl.announcementDone()
		}
	case TransferRequested:
		cl.phoneTransfer(e)
	}
}

func (cl *call) timer(t timerMsg) {
	switch t.kind {
	case timerRouting:
		if cl.state == StateRouting && cl.routing != nil && cl.routing.gen == t.gen {
			cl.log.Info("agent group did not answer in time")
			for _, l := range cl.routing.legs {
				cl.release(l, "no_answer")
				cl.legFailed(l, 19, "ring timeout")
			}
		}
	case timerReroute:
		if cl.state == StateRouting && cl.gen == t.gen {
			cl.startRouting(cl.rec.OwnerPlatform)
		}
	case timerTarget:
		if cl.xfer != nil && cl.xfer.dial.gen == t.gen {
			for _, l := range cl.xfer.dial.legs {
				if !l.answered && !l.gone {
					cl.release(l, "no_answer")
					cl.legFailed(l, 19, "ring timeout")
				}
			}
		}
	case timerAnnouncement:
		if cl.xfer != nil && cl.xfer.dial.gen == t.gen {
			cl.announcementDone()
		}
	}
}

// stasisStart: an originated agent leg answered.
func (cl *call) stasisStart(e StasisStart) {
	l := cl.legs[e.ChannelID]
	if l == nil || l.gone || l.answered {
		return
	}
	l.answered = true
	cl.recLeg(l).Answered = now()
	cl.dirty = true
	if cl.state == StateEnded || l.released {
		cl.release(l, "normal")
		return
	}
	switch {
	case cl.routing != nil && slices.Contains(cl.routing.legs, l) && cl.state == StateRouting:
		cl.agentAnswered(l)
	case cl.xfer != nil && slices.Contains(cl.xfer.dial.legs, l):
		cl.targetAnswered(l)
	default:
		cl.release(l, "normal") // a late answer nobody wants any more
	}
}

func (cl *call) agentAnswered(l *leg) {
	if err := cl.setState(InAgentAnswered); err != nil {
		cl.log.Error("agent answered", zap.Error(err))
		return
	}
	for _, o := range cl.routing.legs {
		if o != l {
			cl.release(o, "normal")
		}
	}
	cl.routing = nil
	cl.owner = l
	cl.decoders[l.id] = cl.newDecoder()
	pbx := cl.ctl.pbx
	_ = cl.cmd("stop ring", func(ctx context.Context) error { return pbx.StopRing(ctx, cl.caller.id) })
	_ = cl.cmd("stop moh", func(ctx context.Context) error { return pbx.StopMOH(ctx, cl.caller.id) })
	if err := cl.bridgeAdd(cl.caller.id, l.id); err != nil {
		cl.log.Error("cannot bridge caller with agent", zap.String("agent_channel_id", l.id), zap.Error(err))
	}
	cl.log.Info("agent answered", zap.String("agent", l.agent), zap.String("agent_channel_id", l.id))
}

func (cl *call) newDecoder() *featureDecoder {
	return newFeatureDecoder(cl.ctl.cfg.Softkeys.Map(), cl.ctl.cfg.DTMFInterDigit.D())
}

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
	if l.gone {
		if cause != 0 && cl.recLeg(l).Cause == 0 {
			cl.recLeg(l).Cause, cl.recLeg(l).CauseText = cause, causeText
			cl.dirty = true
		}
		return
	}
	l.gone = true
	l.cause = cause
	r := cl.recLeg(l)
	r.HungUp = now()
	if r.Bridged != nil && r.Left == nil {
		r.Left = r.HungUp
	}
	if cause != 0 {
		r.Cause, r.CauseText = cause, causeText
	}
	cl.dirty = true
}

// legGone handles any sign that a channel went away.
func (cl *call) legGone(id string, cause int, causeText string) {
	l := cl.legs[id]
	if l == nil {
		return
	}
	wasGone := l.gone
	if !l.answered && l.role != RoleCitizen {
		if cause == 32 { // soft-hangup flag from our own DELETE, not a Q.850 cause
			cause = 0
		}
		cl.legFailed(l, cause, causeText)
		return
	}
	if cause == 32 {
		cause = 0
	}
	cl.markGone(l, cause, causeText)
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

func (cl *call) routingLegFailed(ds *dialSet) {
	if cl.state != StateRouting || !allGone(ds.legs) {
		return
	}
	if cl.dialNext(ds) {
		return
	}
	if err := cl.setState(InAgentsExhausted); err != nil {
		return
	}
	cl.log.Info("no agent of the group answered; ringing again", zap.String("platform", string(ds.platform)))
	cl.routing = nil
	cl.gen++
	cl.after(2*time.Second, timerReroute, cl.gen) // the caller keeps hearing ringback meanwhile
}

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
			// Its own hangup events may come after the call stopped listening.
			cl.markGone(l, 0, "")
		}
		if err := pbx.DestroyBridge(ctx, cl.bridgeID); err != nil && !errors.Is(err, ErrBridgeGone) {
			cl.log.Warn("teardown bridge", zap.String("bridge_id", cl.bridgeID), zap.Error(err))
		}
		cl.rec.Ended = now()
		cl.rec.EndCause = why
		cl.rec.Outcome = cl.callOutcome()
		cl.dirty = true
		for id := range cl.legs {
			cl.ctl.unroute(id)
		}
		cl.log.Info("call ended", zap.String("cause", why), zap.String("outcome", cl.rec.Outcome))
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
			cl.legGone(id, 0, "gone while events were down")
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

// agentLeg finds the agent leg a softkey came from.
func (cl *call) agentLeg(req SoftkeyRequest) *leg {
	if l := cl.legs[req.ChannelID]; l != nil && l.role != RoleCitizen {
		return l
	}
	for _, l := range []*leg{cl.owner, cl.other} {
		if l != nil && req.Agent != "" && (l.agent == req.Agent || l.endpoint == req.Agent) {
			return l
		}
	}
	return cl.owner
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
	res := cl.softkey(SoftkeyRequest{CallID: cl.id, ChannelID: e.ChannelID, Agent: l.agent, Key: k, Source: SourceDTMF})
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
	res := cl.softkey(SoftkeyRequest{CallID: cl.id, ChannelID: l.id, Agent: l.agent, Key: KeyTransfer, Source: SourceRefer})
	state := "channel_progress"
	if !res.Accepted || res.Duplicate {
		state = "channel_declined"
	} else if cl.xfer != nil {
		cl.xfer.referChan = l.id
	}
	_ = cl.cmd("transfer progress", func(ctx context.Context) error { return cl.ctl.pbx.TransferProgress(ctx, l.id, state) })
}

// softkey validates and executes one softkey.
func (cl *call) softkey(req SoftkeyRequest) (res SoftkeyResult) {
	at := time.Now()
	key := req.Key
	if key == KeyTransfer && req.Emergency {
		key = KeyEmergency
	}
	in, _ := key.input()
	from := cl.agentLeg(req)
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
		return SoftkeyResult{Accepted: true, Duplicate: true, TransferID: id, Reason: "操作已在处理中，重复按键已忽略"}
	}
	if _, err := transition(cl.state, in); err != nil {
		var te *TransitionError
		errors.As(err, &te)
		return SoftkeyResult{Reason: te.Reason}
	}
	switch key {
	case KeyTransfer, KeyThreeWay, KeyEmergency:
		return cl.startTransfer(key, req, from)
	case KeyCancel:
		id := cl.xfer.id
		cl.cancelTransfer()
		return SoftkeyResult{Accepted: true, TransferID: id}
	case KeyHandOver, KeyKeep, KeyUndetermined:
		id := cl.rec.Transfers[cl.xfer.idx].ID
		cl.resolve(key)
		return SoftkeyResult{Accepted: true, TransferID: id}
	}
	return SoftkeyResult{Reason: "未知的操作键"}
}

func (cl *call) isDuplicate(key Key, at time.Time) (bool, string) {
	if cl.xfer != nil {
		running := map[StateKey]Key{{StateTransferRinging, ModeOneKey}: KeyTransfer, {StateConsultRinging, ModeThreeWay}: KeyThreeWay,
			{StateEmergencyRinging, ModeEmergency}: KeyEmergency, {StateThreeWay, ModeThreeWay}: KeyThreeWay}
		if running[StateKey{cl.state, cl.xfer.mode}] == key {
			return true, cl.xfer.id
		}
	}
	if key == cl.lastKey && at.Sub(cl.lastAt) < 3*time.Second {
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
	x.dial = &dialSet{platform: target, endpoints: eps, timeout: timeout, gen: cl.gen,
		meta: Metadata{CallID: cl.id, TransferID: x.id, Ticket: ticket, Category: category, Agent: fromAgent, Origin: owner,
			Role: AgentRole(target), Mode: mode, Emergency: mode == ModeEmergency}}
	cl.xfer = x
	cl.rec.Transfers = append(cl.rec.Transfers, Transfer{ID: x.id, Mode: mode, Direction: dir, Category: category,
		Emergency: mode == ModeEmergency, Requested: time.Now(), FromAgent: fromAgent})
	pbx := cl.ctl.pbx
	if mode == ModeOneKey {
		// The caller leaves the bridge and hears the announcement, then hold music: never silence.
		x.playbackID = cl.ctl.newID("p")
		media := cfg.Announcement
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
		if from == StateTransferRinging {
			cl.stopCallerWaiting()
			if err := cl.bridgeAdd(cl.caller.id, l.id); err != nil {
				cl.log.Error("cannot bridge caller with the new agent", zap.Error(err))
			}
		} else {
			// Emergency: 110 joins first, then the first agent leaves: the caller always hears someone.
			_ = cl.bridgeAdd(l.id)
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
