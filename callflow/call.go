package callflow

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Messages a call's goroutine receives besides PBX events.
type (
	softkeyMsg struct {
		req   SoftkeyRequest
		reply chan softkeyReply
	}
	softkeyReply struct {
		res SoftkeyResult
		err error // wraps ErrNotConnected when the presser may not act
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
	// guessedCause: the recorded cause is Normal Clearing assumed, not reported.
	guessedCause bool
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
	cl.loop()
}

// loop is the call's one event loop (new and adopted calls): it handles messages
// until the call ends or the controller stops, publishing after each batch.
func (cl *call) loop() {
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
		switch m := m.(type) {
		case softkeyMsg:
			m.reply <- softkeyReply{res: SoftkeyResult{CallID: cl.id, Reason: "通话已结束"}}
		case ticketMsg:
			// The record is final now: SetTicket retries on the ended path.
			m.reply <- ticketReply{err: errCallEnding}
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

// readInboundHeaders reads the caller's X-Linkage-* headers and keeps what
// CheckInbound allows: linkage metadata only from a configured linkage peer
// (controller.linkage_peers), known confidentiality flags from anyone.
func (cl *call) readInboundHeaders() {
	pbx := cl.ctl.pbx
	read := func(h string) (string, bool) {
		v, err := pbx.GetVar(cl.ctx, cl.caller.id, "PJSIP_HEADER(read,"+h+")")
		switch {
		case err == nil:
		case errors.Is(err, ErrNoSuchVariable) || errors.Is(err, context.Canceled):
			// An absent header answers 500 "Unable to read provided function" on Asterisk: normal.
			cl.log.Debug("inbound header absent", zap.String("header", h), zap.Error(err))
		default:
			cl.log.Warn("pbx command failed", zap.String("op", "read header"), zap.String("header", h), zap.Error(err))
		}
		return v, err == nil && v != ""
	}
	endpoint := cl.caller.endpoint
	trust := TrustOf(endpoint, cl.ctl.cfg.LinkagePeers)
	raw := map[string]string{}
	// Confidentiality flags may come on any call (set by the 110 side's own system).
	if v, ok := read(HeaderFlags); ok {
		raw[HeaderFlags] = v
	}
	// A linkage leg carries the call id: without it the other headers are not there either.
	if v, ok := read(HeaderCallID); ok {
		raw[HeaderCallID] = v
		if trust == TrustPeer {
			for _, h := range MetadataHeaders[1:] {
				if h == HeaderFlags {
					continue
				}
				if v, ok := read(h); ok {
					raw[h] = v
				}
			}
		} else {
			cl.log.Info("linkage metadata ignored: caller is not a linkage peer",
				zap.String("endpoint", endpoint), zap.Strings("linkage_peers", cl.ctl.cfg.LinkagePeers))
		}
	}
	if len(raw) == 0 {
		return
	}
	in := CheckInbound(raw, trust, cl.rec.FirstPlatform, cl.ctl.matters.Load(), cl.ctl.knownFlag)
	for _, d := range in.Dropped {
		if trust != TrustPeer && d.Header == HeaderCallID {
			continue // logged above
		}
		cl.log.Warn("inbound header dropped", zap.String("header", d.Header), zap.String("why", d.Why),
			zap.Int("bytes", d.Size), zap.String("endpoint", endpoint), zap.Stringer("trust", trust))
	}
	if len(in.Headers) == 0 {
		return
	}
	cl.rec.InboundHeaders = in.Headers
	cl.dirty = true
	cl.applyFlags(in.Flags)
	if in.CallID == "" {
		return
	}
	if in.Category != "" {
		cl.rec.Category = in.Category
	}
	switch in.Origin {
	case Platform12345:
		cl.rec.Ticket12345 = in.Ticket
	case Platform110:
		cl.rec.Ticket110 = in.Ticket
	}
	cl.rec.Emergency = in.Emergency
	cl.log.Info("inbound linkage metadata", zap.String("origin_call_id", in.CallID), zap.String("ticket_id", in.Ticket),
		zap.String("endpoint", endpoint))
}

// applyFlags marks the call Confidential when an inbound flag is restricted.
func (cl *call) applyFlags(flags []string) {
	for _, f := range flags {
		if cl.ctl.restrict[f] {
			cl.rec.Confidential = true
			cl.dirty = true
			cl.log.Info("call under restricted knowledge", zap.String("flag", f))
			return
		}
	}
}

// flags is the inbound HeaderFlags value, sent on with every transfer.
func (cl *call) flags() string { return cl.rec.InboundHeaders[HeaderFlags] }

// handle is the one place a call reacts to anything.
func (cl *call) handle(m any) {
	switch e := m.(type) {
	case softkeyMsg:
		res, err := cl.softkey(e.req)
		res.CallID = cl.id
		res.State = cl.state.String()
		cl.flush() // the record shows the press before the desk hears back
		e.reply <- softkeyReply{res: res, err: err}
	case ticketMsg:
		cl.setTicket(e)
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
		cl.legGone(e.ChannelID, e.Cause, "", false)
	case StasisEnd:
		cl.legGone(e.ChannelID, 0, "", false)
	case ChannelDestroyed:
		cl.legGone(e.ChannelID, e.Cause, e.CauseText, true)
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
	if e.State != "" && e.State != "Up" {
		return // a created channel enters Stasis before it is dialled (t07): not an answer
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
