package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Channel is one call leg. All fields are guarded by Engine.mu.
type Channel struct {
	e          *Engine
	id, name   string
	techName   string
	resource   string
	tech       Technology
	kind       ChannelKind
	state      ChannelState
	caller     CallerID
	connected  CallerID
	dialplan   DialplanCEP
	created    time.Time
	protocolID string
	vars       map[string]string
	headers    []Header
	log        *zap.Logger

	app      *App
	appArgs  []string
	inStasis bool
	bridge   *Bridge
	linked   bool // used as originator/caller of another leg: gets ChannelDestroyed after StasisEnd (t07)

	dialing      bool // an outgoing call is in progress and not answered
	dialStarted  bool // Dial "" sent
	dialTimer    *time.Timer
	dialString   string
	gone         bool
	priv         any
	media        MediaPort
	playing      *Playback
	playQueue    []*Playback
	moh          bool
	ringback     bool
	gen          genSource
	hear         Hearing
	hearLog      []HearingChange
	transferring bool
	transferDest string
	held         bool
	pendingOpts  *DialOptions
	ctl          *chanCtl
}

func (c *Channel) snapshot() ChannelJSON {
	return ChannelJSON{
		ID: c.id, Name: c.name, State: c.state.String(), ProtocolID: c.protocolID,
		Caller: c.caller, Connected: c.connected, Dialplan: c.dialplan,
		Creationtime: c.created.Format(TimeFormat), Language: "en",
	}
}

// chanCtl is the ChannelControl handed to technologies.
type chanCtl struct {
	e  *Engine
	ch *Channel
}

func (c *chanCtl) ID() string   { return c.ch.id }
func (c *chanCtl) Name() string { return c.ch.name }
func (c *chanCtl) TechPrivate() any {
	c.e.mu.Lock()
	defer c.e.unlock()
	return c.ch.priv
}
func (c *chanCtl) SetTechPrivate(v any) {
	c.e.mu.Lock()
	c.ch.priv = v
	c.e.unlock()
}
func (c *chanCtl) SetProtocolID(id string) {
	c.e.mu.Lock()
	c.ch.protocolID = id
	c.e.unlock()
}
func (c *chanCtl) Ringing()                          { c.e.remoteRinging(c.ch) }
func (c *chanCtl) Answered()                         { c.e.remoteAnswered(c.ch) }
func (c *chanCtl) Hangup(cause int)                  { c.e.remoteHangup(c.ch, cause) }
func (c *chanCtl) DTMF(digit string, durationMs int) { c.e.remoteDTMF(c.ch, digit, durationMs) }
func (c *chanCtl) TransferRequested(dest string)     { c.e.remoteTransfer(c.ch, dest) }
func (c *chanCtl) Hold()                             { c.e.remoteHold(c.ch, true) }
func (c *chanCtl) Unhold()                           { c.e.remoteHold(c.ch, false) }
func (c *chanCtl) SetMedia(p MediaPort)              { c.e.setMedia(c.ch, p) }

// newChannelLocked allocates a channel id and name. Caller holds e.mu.
func (e *Engine) newChannelLocked(t Technology, resource, id string) *Channel {
	now := e.now()
	e.nameSeq++
	name := fmt.Sprintf("%s/%s-%08x", t.Name(), resource, e.nameSeq-1)
	if id == "" {
		id = fmt.Sprintf("%s-%d.%d", e.opts.SystemName, now.Unix(), e.chanSeq)
		e.chanSeq++
	}
	ch := &Channel{e: e, id: id, name: name, techName: t.Name(), resource: resource, tech: t,
		created: now, vars: map[string]string{}, hear: Hearing{Kind: HearSilence}}
	ch.ctl = &chanCtl{e: e, ch: ch}
	ch.log = e.log.With(zap.String("channel_id", id), zap.String("channel", name))
	return ch
}

// Inbound implements InboundRouter: a technology's new call enters the dialplan
// and, through it, its Stasis application. No application connected: rejected
// with cause 16 (t13-ws-none-inbound).
func (e *Engine) Inbound(call InboundCall) (ChannelControl, error) {
	e.mu.Lock()
	defer e.unlock()
	t := e.techs[call.Tech]
	if t == nil {
		return nil, &RejectError{Cause: 58, Reason: "unknown technology " + call.Tech}
	}
	if e.phase != PhaseServing {
		// Shutting down: 42 is answered as SIP 503, and the caller told when to retry.
		return nil, &RejectError{Cause: 42, Reason: "switch shutting down (" + e.phase.String() + ")", RetryAfter: e.retryAfter}
	}
	var entry *DialplanEntry
	for i := range e.opts.Dialplan {
		if e.opts.Dialplan[i].Exten == call.Exten {
			entry = &e.opts.Dialplan[i]
		}
	}
	if entry == nil {
		return nil, &RejectError{Cause: 1, Reason: "no extension " + call.Exten + " in " + e.opts.Context}
	}
	a := e.apps[entry.App]
	if a == nil {
		e.log.Warn("inbound call rejected: stasis application not registered", zap.String("app", entry.App), zap.String("exten", call.Exten))
		return nil, &RejectError{Cause: 16, Reason: "Stasis application " + entry.App + " not registered"}
	}
	ch := e.newChannelLocked(t, call.Endpoint, "")
	ch.kind = KindInbound
	ch.state = StateRing
	ch.caller = CallerID{Name: call.CallerIDName, Number: call.CallerIDNumber}
	ch.protocolID = call.ProtocolID
	ch.headers = append([]Header(nil), call.Headers...)
	if call.TechPrivate != nil {
		ch.priv = call.TechPrivate
		if a, ok := call.TechPrivate.(ChannelAttacher); ok {
			a.AttachChannel(ch.ctl)
		}
	}
	args := append([]string{}, entry.AppArgs...)
	ch.dialplan = DialplanCEP{Context: e.opts.Context, Exten: call.Exten, Priority: 2, AppName: "Stasis",
		AppData: strings.Join(append([]string{entry.App}, args...), ",")}
	e.channels[ch.id] = ch
	ch.log.Info("inbound call", zap.String("exten", call.Exten), zap.String("from", call.Endpoint))
	e.enterStasisLocked(ch, a, args)
	return ch.ctl, nil
}

func (e *Engine) enterStasisLocked(ch *Channel, a *App, args []string) {
	ch.app = a
	ch.appArgs = args
	ch.inStasis = true
	a.channels[ch.id] = ch
	e.emit(a, "StasisStart", ch.id, map[string]any{"args": args, "channel": ch.snapshot()})
}

// OriginateRequest is POST /channels (and /channels/create when Create is set).
type OriginateRequest struct {
	Endpoint       string
	App            string
	AppArgs        string
	Extension      string
	CallerID       string
	Timeout        int // seconds; 0 = default 30; -1 = none
	Variables      map[string]string
	ChannelID      string
	OtherChannelID string
	Originator     string
}

// Originate places a call and returns the new channel (state Down).
func (e *Engine) Originate(ctx context.Context, r OriginateRequest) (ChannelJSON, error) {
	return e.originate(ctx, r, false)
}

// Create is POST /channels/create: the channel enters Stasis at once, in state Down,
// and is dialled later with Dial.
func (e *Engine) Create(ctx context.Context, r OriginateRequest) (ChannelJSON, error) {
	return e.originate(ctx, r, true)
}

func parseCallerID(s string) CallerID {
	s = strings.TrimSpace(s)
	if s == "" {
		return CallerID{}
	}
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		name := strings.Trim(strings.TrimSpace(s[:i]), `"`)
		return CallerID{Name: name, Number: s[i+1 : len(s)-1]}
	}
	return CallerID{Number: s}
}

func (e *Engine) originate(ctx context.Context, r OriginateRequest, create bool) (ChannelJSON, error) {
	if r.Endpoint == "" {
		return ChannelJSON{}, errf(400, "Endpoint must be specified")
	}
	if r.App == "" && (create || r.Extension == "") {
		if create {
			return ChannelJSON{}, errf(400, "Application must be specified")
		}
		return ChannelJSON{}, errf(400, "Application or extension must be specified")
	}
	techName, resource, ok := strings.Cut(r.Endpoint, "/")
	e.mu.Lock()
	t := e.techs[techName]
	if !ok || t == nil || resource == "" || strings.ContainsAny(resource, "@/") {
		e.unlock()
		return ChannelJSON{}, errAllocation
	}
	e.unlock()
	if !t.Exists(resource) {
		return ChannelJSON{}, errAllocation
	}
	e.mu.Lock()
	if r.ChannelID != "" && e.channels[r.ChannelID] != nil {
		e.nameSeq++ // Asterisk consumes a name number before noticing (t16)
		e.unlock()
		return ChannelJSON{}, errf(409, "Channel with given unique ID already exists")
	}
	ch := e.newChannelLocked(t, resource, r.ChannelID)
	ch.dialString = resource
	opts := DialOptions{Variables: map[string]string{}}
	for k, v := range r.Variables {
		if name, ok := strings.CutPrefix(k, "PJSIP_HEADER(add,"); ok && strings.HasSuffix(name, ")") {
			opts.Headers = append(opts.Headers, Header{Name: strings.TrimSuffix(name, ")"), Value: v})
		} else {
			ch.vars[k] = v
		}
		opts.Variables[k] = v
	}
	sortHeaders(opts.Headers, r.Variables)
	if create {
		ch.kind = KindCreated
		ch.dialplan = DialplanCEP{Context: e.opts.Context, Exten: "s", Priority: 1, AppName: "Stasis",
			AppData: strings.Join(append([]string{r.App}, splitArgs(r.AppArgs)...), ",")}
	} else {
		ch.kind = KindOriginated
		ch.caller = parseCallerID(r.CallerID)
		ch.connected = ch.caller
		opts.CallerIDName, opts.CallerIDNumber = ch.caller.Name, ch.caller.Number
		ch.dialplan = DialplanCEP{Context: e.opts.Context, Exten: "s", Priority: 1, AppName: "AppDial2", AppData: "(Outgoing Line)"}
	}
	ch.protocolID = e.newUUID()
	appName := r.App
	ch.appArgs = splitArgs(r.AppArgs)
	if appName == "" {
		// extension only: on answer the leg runs the dialplan entry for it.
		for _, d := range e.opts.Dialplan {
			if d.Exten == r.Extension {
				appName, ch.appArgs = d.App, append([]string{}, d.AppArgs...)
			}
		}
		if appName == "" {
			e.unlock()
			return ChannelJSON{}, errAllocation
		}
	}
	if o := e.channels[r.Originator]; o != nil {
		o.linked = true
	}
	a := e.appLocked(appName)
	ch.app = a
	a.channels[ch.id] = ch
	e.channels[ch.id] = ch
	if create {
		e.emit(a, "ChannelDialplan", ch.id, map[string]any{"dialplan_app": "Stasis", "dialplan_app_data": ch.dialplan.AppData, "channel": ch.snapshot()})
		e.varsetLocked(ch, "STASISSTATUS", "")
		e.enterStasisLocked(ch, a, ch.appArgs)
		ch.pendingOpts = &opts // kept for the later Dial
		snap := ch.snapshot()
		e.unlock()
		ch.log.Info("channel created", zap.String("endpoint", r.Endpoint))
		return snap, nil
	}
	ch.dialing = true
	snap := ch.snapshot()
	timeout := time.Duration(r.Timeout) * time.Second
	if r.Timeout == 0 {
		timeout = 30 * time.Second
	}
	e.unlock()
	ch.log.Info("originate", zap.String("endpoint", r.Endpoint), zap.Duration("timeout", timeout))
	if err := t.Dial(context.WithoutCancel(ctx), ch.ctl, resource, opts); err != nil {
		ch.log.Warn("originate: dial failed", zap.Error(err))
		e.mu.Lock()
		e.forgetLocked(ch)
		e.unlock()
		return ChannelJSON{}, errAllocation
	}
	e.mu.Lock()
	e.dialStartedLocked(ch)
	if timeout > 0 && !ch.gone && ch.dialing {
		ch.dialTimer = time.AfterFunc(timeout, func() { e.dialTimeout(ch) })
	}
	e.unlock()
	return snap, nil
}

// sortHeaders keeps PJSIP_HEADER(add,...) in a stable order (JSON objects carry none).
func sortHeaders(h []Header, _ map[string]string) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].Name < h[j-1].Name; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

// Dial is POST /channels/{id}/dial on a created channel.
func (e *Engine) Dial(ctx context.Context, id, caller string, timeoutSec int) error {
	e.mu.Lock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		e.unlock()
		return errChannelNotFound
	}
	if ch.kind != KindCreated || ch.dialing || ch.dialStarted {
		e.unlock()
		return errf(409, "Channel is not in the 'Down' state")
	}
	opts := DialOptions{}
	if ch.pendingOpts != nil {
		opts = *ch.pendingOpts
	}
	if c := e.channels[caller]; c != nil {
		c.linked = true
		ch.connected = c.caller
		e.emit(ch.app, "ChannelConnectedLine", ch.id, map[string]any{"channel": ch.snapshot()})
		opts.CallerIDName, opts.CallerIDNumber = c.caller.Name, c.caller.Number
	}
	ch.dialing = true
	t, resource := ch.tech, ch.resource
	e.unlock()
	if err := t.Dial(context.WithoutCancel(ctx), ch.ctl, resource, opts); err != nil {
		ch.log.Warn("dial failed", zap.Error(err))
		e.mu.Lock()
		e.hangupLocked(ch, 34, false)
		e.unlock()
		return nil
	}
	e.mu.Lock()
	e.dialStartedLocked(ch)
	if timeoutSec > 0 && !ch.gone && ch.dialing {
		ch.dialTimer = time.AfterFunc(time.Duration(timeoutSec)*time.Second, func() { e.dialTimeout(ch) })
	}
	e.unlock()
	return nil
}

func (e *Engine) dialEvent(ch *Channel, status string) {
	ds := ch.dialString
	if ch.kind == KindCreated && status != "" {
		ds = "" // t07: only the first Dial of a created channel names the dialstring
	}
	e.emit(ch.app, "Dial", ch.id, map[string]any{"dialstatus": status, "forward": "", "dialstring": ds, "peer": ch.snapshot()})
}

func (e *Engine) dialStartedLocked(ch *Channel) {
	if ch.dialStarted || ch.gone {
		return
	}
	ch.dialStarted = true
	e.dialEvent(ch, "")
}

func (e *Engine) remoteRinging(ch *Channel) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone || !ch.dialing || ch.state == StateRinging {
		return
	}
	e.dialStartedLocked(ch)
	e.setStateLocked(ch, StateRinging)
	e.dialEvent(ch, "RINGING")
}

func (e *Engine) remoteAnswered(ch *Channel) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone || !ch.dialing {
		return
	}
	e.dialStartedLocked(ch)
	ch.dialing = false
	if ch.dialTimer != nil {
		ch.dialTimer.Stop()
	}
	e.setStateLocked(ch, StateUp)
	e.dialEvent(ch, "ANSWER")
	ch.log.Info("answered")
	if ch.kind == KindOriginated {
		ch.dialplan = DialplanCEP{Context: e.opts.Context, Exten: "s", Priority: 1, AppName: "Stasis",
			AppData: strings.Join(append([]string{ch.app.name}, ch.appArgs...), ",")}
		e.varsetLocked(ch, "STASISSTATUS", "")
		e.enterStasisLocked(ch, ch.app, ch.appArgs)
	}
	e.updateHearingLocked(ch)
}

func (e *Engine) setStateLocked(ch *Channel, s ChannelState) {
	if ch.state == s {
		return
	}
	ch.state = s
	e.emit(ch.app, "ChannelStateChange", ch.id, map[string]any{"channel": ch.snapshot()})
}

func (e *Engine) varsetLocked(ch *Channel, name, value string) {
	ch.vars[name] = value
	e.emit(ch.app, "ChannelVarset", ch.id, map[string]any{"variable": name, "value": value, "channel": ch.snapshot()})
}

// dialTimeout ends an unanswered outgoing leg when its originate/dial timeout expires.
func (e *Engine) dialTimeout(ch *Channel) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone || !ch.dialing {
		return
	}
	ch.log.Info("dial timeout")
	if ch.kind == KindOriginated {
		// t04/t06: only ChannelDestroyed 19, no HangupRequest, no final Dial.
		e.destroyLocked(ch, 19)
		e.techHangup(ch, 19)
		return
	}
	e.hangupLocked(ch, 19, true)
}

func (e *Engine) techHangup(ch *Channel, cause int) {
	t, ctl := ch.tech, ch.ctl
	e.after(func() {
		if err := t.Hangup(ctl, cause); err != nil {
			ch.log.Warn("technology hangup failed", zap.Int("cause", cause), zap.Error(err))
		}
	})
}

// Hangup is DELETE /channels/{id}.
func (e *Engine) Hangup(id string, cause int) error {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errChannelNotFound
	}
	ch.log.Info("hangup requested", zap.Int("cause", cause))
	e.hangupLocked(ch, cause, true)
	return nil
}

// hangupLocked is a local (ARI or timeout) hangup: ChannelHangupRequest 32 soft, then teardown.
func (e *Engine) hangupLocked(ch *Channel, cause int, tellTech bool) {
	if ch.gone {
		return
	}
	e.emit(ch.app, "ChannelHangupRequest", ch.id, map[string]any{"cause": 32, "soft": true, "channel": ch.snapshot()})
	if ch.kind == KindOriginated && ch.dialing {
		e.dialEvent(ch, "NOANSWER")
		e.destroyLocked(ch, cause)
	} else {
		e.leaveStasisLocked(ch)
		switch {
		case ch.kind != KindInbound:
			e.varsetLocked(ch, "STASISSTATUS", "SUCCESS")
			e.destroyLocked(ch, cause)
		case ch.linked:
			e.varsetLocked(ch, "STASISSTATUS", "SUCCESS")
			e.emit(ch.app, "ChannelHangupRequest", ch.id, map[string]any{"cause": 16, "soft": true, "channel": ch.snapshot()})
			e.destroyLocked(ch, 16)
		default:
			e.destroyLocked(ch, -1)
		}
	}
	if tellTech {
		e.techHangup(ch, cause)
	}
}

// leaveStasisLocked: failed playbacks, bridge exit, StasisEnd.
func (e *Engine) leaveStasisLocked(ch *Channel) {
	e.stopPlaybacksLocked(ch, "failed")
	if ch.bridge != nil {
		e.leaveBridgeLocked(ch, true)
	}
	if ch.inStasis {
		ch.inStasis = false
		e.emit(ch.app, "StasisEnd", ch.id, map[string]any{"channel": ch.snapshot()})
	}
}

// remoteHangup: the far end hung up or the call failed.
func (e *Engine) remoteHangup(ch *Channel, cause int) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone {
		return
	}
	ch.log.Info("remote hangup", zap.Int("cause", cause))
	if ch.dialing {
		e.dialStartedLocked(ch)
	}
	hr := map[string]any{"channel": ch.snapshot()}
	if ch.kind != KindInbound {
		hr["cause"] = cause
		if tc, ok := techCause(cause); ok && ch.dialing {
			hr["tech_cause"] = tc
		}
	}
	e.emit(ch.app, "ChannelHangupRequest", ch.id, hr)
	if ch.kind == KindOriginated && ch.dialing {
		e.dialEvent(ch, dialStatus(cause))
		e.destroyLocked(ch, cause)
		return
	}
	e.leaveStasisLocked(ch)
	if ch.kind != KindInbound {
		e.varsetLocked(ch, "STASISSTATUS", "SUCCESS")
		e.destroyLocked(ch, cause)
		return
	}
	e.destroyLocked(ch, -1)
}

// destroyLocked removes the channel; cause < 0 sends no ChannelDestroyed (dialplan channels, t01).
func (e *Engine) destroyLocked(ch *Channel, cause int) {
	if ch.gone {
		return
	}
	ch.dialing = false
	if ch.dialTimer != nil {
		ch.dialTimer.Stop()
	}
	e.stopPlaybacksLocked(ch, "failed")
	if ch.bridge != nil {
		e.leaveBridgeLocked(ch, true)
	}
	// Stasis has returned by now: an originated leg is back in its dial
	// application, others show no application (t02, t07).
	if ch.kind == KindOriginated {
		ch.dialplan = DialplanCEP{Context: e.opts.Context, Exten: "s", Priority: 1, AppName: "AppDial2", AppData: "(Outgoing Line)"}
	} else {
		ch.dialplan.AppName, ch.dialplan.AppData = "", ""
	}
	if cause >= 0 {
		m := map[string]any{"channel": ch.snapshot()}
		causeFields(cause, m)
		e.emit(ch.app, "ChannelDestroyed", ch.id, m)
	}
	e.forgetLocked(ch)
}

func (e *Engine) forgetLocked(ch *Channel) {
	ch.gone = true
	ch.inStasis = false
	delete(e.channels, ch.id)
	delete(e.generating, ch)
	ch.media = nil
	if e.opts.RetainHearing {
		e.retired[ch.id] = ch
	}
	if ch.app != nil {
		delete(ch.app.channels, ch.id)
		e.reapApp(ch.app)
	}
	e.setHearingLocked(ch, Hearing{Kind: HearSilence})
	e.wakeIdleLocked()
}

// Answer is POST /channels/{id}/answer (answering twice is fine, t12).
func (e *Engine) Answer(id string) error {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errChannelNotFound
	}
	if ch.state == StateUp || ch.kind != KindInbound {
		return nil
	}
	t, ctl := ch.tech, ch.ctl
	e.after(func() {
		if err := t.Answer(ctl); err != nil {
			ch.log.Warn("technology answer failed", zap.Error(err))
		}
	})
	e.setStateLocked(ch, StateUp)
	if ch.ringback {
		ch.ringback = false
		e.refreshGenLocked(ch)
	}
	ch.log.Info("answered")
	return nil
}

// Channel returns GET /channels/{id}.
func (e *Engine) Channel(id string) (ChannelJSON, error) {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil {
		return ChannelJSON{}, errChannelNotFound
	}
	return ch.snapshot(), nil
}

// Channels returns GET /channels in creation order.
func (e *Engine) Channels() []ChannelJSON {
	e.mu.Lock()
	defer e.unlock()
	out := make([]ChannelJSON, 0, len(e.channels))
	list := make([]*Channel, 0, len(e.channels))
	for _, ch := range e.channels {
		list = append(list, ch)
	}
	sortChannels(list)
	for _, ch := range list {
		out = append(out, ch.snapshot())
	}
	return out
}

func sortChannels(l []*Channel) {
	sort.Slice(l, func(i, j int) bool {
		if !l[i].created.Equal(l[j].created) {
			return l[i].created.Before(l[j].created)
		}
		return l[i].id < l[j].id
	})
}

// Ring is POST/DELETE /channels/{id}/ring: 180 Ringing before answer, local ringback after.
func (e *Engine) Ring(id string, on bool) error {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errChannelNotFound
	}
	if on && ch.state != StateUp && ch.kind == KindInbound {
		t, ctl := ch.tech, ch.ctl
		e.after(func() { _ = t.Indicate(ctl, IndicateRinging) })
	}
	ch.ringback = on
	e.refreshGenLocked(ch)
	return nil
}

// MOH is POST/DELETE /channels/{id}/moh; an unknown class plays nothing (t10).
func (e *Engine) MOH(id, class string, on bool) error {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errChannelNotFound
	}
	ch.moh = on && (class == "" || class == "default")
	e.refreshGenLocked(ch)
	return nil
}

// SendDTMF is POST /channels/{id}/dtmf.
func (e *Engine) SendDTMF(id, digits string, durationMs int) error {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errChannelNotFound
	}
	if digits == "" {
		return errf(400, "DTMF is required")
	}
	if durationMs <= 0 {
		durationMs = 100
	}
	t, ctl := ch.tech, ch.ctl
	e.after(func() {
		if err := t.SendDTMF(ctl, digits, durationMs); err != nil {
			ch.log.Warn("send dtmf failed", zap.Error(err))
		}
	})
	return nil
}

func (e *Engine) remoteDTMF(ch *Channel, digit string, ms int) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone || !ch.inStasis {
		return
	}
	e.emit(ch.app, "ChannelDtmfReceived", ch.id, map[string]any{"digit": digit, "duration_ms": ms, "channel": ch.snapshot()})
}

// remoteHold: the far end put the call on hold or resumed it (ChannelHold/ChannelUnhold, t14).
func (e *Engine) remoteHold(ch *Channel, on bool) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone || !ch.inStasis || ch.held == on {
		return
	}
	ch.held = on
	typ := "ChannelUnhold"
	if on {
		typ = "ChannelHold"
	}
	e.emit(ch.app, typ, ch.id, map[string]any{"channel": ch.snapshot()})
}
