package sim

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"linkctl/ari/engine"
)

// Behavior is what a Sim endpoint does when the switch calls it.
type Behavior int

const (
	// Answer rings, then answers after AnswerAfter.
	Answer Behavior = iota
	// Busy rejects at once with cause 17 (SIP 486).
	Busy
	// NoAnswer rings until the caller gives up (dial timeout, cause 19).
	NoAnswer
	// Unavailable never responds, like a phone behind a dead contact (t06):
	// the switch's dial timeout ends it, or timer B (cause 18) if it has none.
	Unavailable
)

func (b Behavior) String() string {
	switch b {
	case Answer:
		return "answer"
	case Busy:
		return "busy"
	case NoAnswer:
		return "no_answer"
	case Unavailable:
		return "unavailable"
	}
	return fmt.Sprintf("Behavior(%d)", int(b))
}

// ParseBehavior reads a config behavior name ("" = answer).
func ParseBehavior(s string) (Behavior, error) {
	for _, b := range []Behavior{Answer, Busy, NoAnswer, Unavailable} {
		if b.String() == s {
			return b, nil
		}
	}
	if s == "" {
		return Answer, nil
	}
	return 0, fmt.Errorf("sim: unknown behavior %q", s)
}

// TimerB is how long an Unavailable endpoint stays silent before the call fails
// with cause 18 when the switch set no dial timeout (SIP timer B, 32 s).
var TimerB = 32 * time.Second

// Script is an endpoint's scripted behaviour.
type Script struct {
	Behavior    Behavior
	AnswerAfter time.Duration
	// DTMF is sent DTMFAfter after answer; HangupAfter > 0 hangs up that long after answer.
	DTMF        string
	DTMFAfter   time.Duration
	HangupAfter time.Duration
	// ToneHz > 0 makes the phone talk: a sine at this frequency as its media.
	ToneHz float64
	// ToneLevel is the sine's peak amplitude (default 8000).
	ToneLevel int16
}

// Tech is the Sim channel technology: simulated phones that talk to the switch
// through the same contract a SIP technology uses. It is the outside world, not a
// side door for the controller.
type Tech struct {
	router engine.InboundRouter
	log    *zap.Logger
	mu     sync.Mutex
	phones map[string]*Phone
	seq    atomic.Int64
}

// New builds the technology; register it with engine.RegisterTech.
func New(router engine.InboundRouter, log *zap.Logger) *Tech {
	if log == nil {
		log = zap.NewNop()
	}
	return &Tech{router: router, log: log, phones: map[string]*Phone{}}
}

// Phone returns the endpoint named name, creating it (behavior Answer) if needed.
func (t *Tech) Phone(name string) *Phone {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.phones[name]
	if p == nil {
		p = &Phone{t: t, name: name}
		t.phones[name] = p
	}
	return p
}

// Phone is one Sim endpoint.
type Phone struct {
	t          *Tech
	name       string
	mu         sync.Mutex
	script     Script
	onIncoming func(*Call)
	calls      []*Call
	offline    atomic.Bool
}

// Name is the endpoint resource (dial string Sim/<name>).
func (p *Phone) Name() string { return p.name }

// SetOffline marks the endpoint offline (or online again) in GET /endpoints, as
// Asterisk shows a trunk whose qualify fails or a phone that is not registered.
// Only the reported state changes; calls to it still follow the script.
func (p *Phone) SetOffline(offline bool) *Phone {
	p.offline.Store(offline)
	return p
}

// SetScript sets how the phone answers calls from the switch.
func (p *Phone) SetScript(s Script) *Phone {
	p.mu.Lock()
	p.script = s
	p.mu.Unlock()
	return p
}

// OnIncoming lets Go code play the phone for calls from the switch (overrides the script's behavior).
func (p *Phone) OnIncoming(f func(*Call)) *Phone {
	p.mu.Lock()
	p.onIncoming = f
	p.mu.Unlock()
	return p
}

// FindCall returns the call whose switch channel is channelID, from any phone.
func (t *Tech) FindCall(channelID string) *Call {
	t.mu.Lock()
	phones := make([]*Phone, 0, len(t.phones))
	for _, p := range t.phones {
		phones = append(phones, p)
	}
	t.mu.Unlock()
	for _, p := range phones {
		for _, c := range p.Calls() {
			if c.ctl != nil && c.ctl.ID() == channelID {
				return c
			}
		}
	}
	return nil
}

// Calls returns every call this phone took part in, oldest first.
func (p *Phone) Calls() []*Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Call(nil), p.calls...)
}

// CallState is a Sim call's state as the phone sees it.
type CallState int

const (
	CallDialing CallState = iota
	CallRinging
	CallUp
	CallEnded
)

func (s CallState) String() string {
	switch s {
	case CallDialing:
		return "dialing"
	case CallRinging:
		return "ringing"
	case CallUp:
		return "up"
	case CallEnded:
		return "ended"
	}
	return fmt.Sprintf("CallState(%d)", int(s))
}

// Call is one call of a Sim phone, either placed by it (Phone.Call) or received from the switch.
type Call struct {
	phone    *Phone
	ctl      engine.ChannelControl
	Incoming bool // true: the switch called the phone
	Options  engine.DialOptions

	mu        sync.Mutex
	state     CallState
	cause     int
	dtmf      []byte
	ringing   bool
	transfers []string
	timers    []*time.Timer
	port      *port
	changed   chan struct{}
}

func (p *Phone) newCall(incoming bool) *Call {
	c := &Call{phone: p, Incoming: incoming, changed: make(chan struct{})}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	if p.script.ToneHz > 0 {
		c.port = &port{freq: p.script.ToneHz, level: p.script.ToneLevel}
		if c.port.level == 0 {
			c.port.level = 8000
		}
	}
	p.mu.Unlock()
	return c
}

// CallOption adjusts an outgoing Sim call.
type CallOption func(*engine.InboundCall)

// WithHeaders adds SIP-like headers readable with PJSIP_HEADER(read,Name).
func WithHeaders(h ...engine.Header) CallOption {
	return func(c *engine.InboundCall) { c.Headers = append(c.Headers, h...) }
}

// WithCallerID sets the caller id name and number (default: the phone name).
func WithCallerID(name, number string) CallOption {
	return func(c *engine.InboundCall) { c.CallerIDName, c.CallerIDNumber = name, number }
}

// Call dials exten on the switch. A rejected call (no application, unknown
// extension) returns the *engine.RejectError with its cause.
func (p *Phone) Call(ctx context.Context, exten string, opts ...CallOption) (*Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sim %s call %s: %w", p.name, exten, err)
	}
	in := engine.InboundCall{Tech: "Sim", Endpoint: p.name, Exten: exten, CallerIDName: p.name, CallerIDNumber: p.name,
		ProtocolID: fmt.Sprintf("sim-%d@%s", p.t.seq.Add(1), p.name)}
	for _, o := range opts {
		o(&in)
	}
	c := p.newCall(false)
	c.state = CallRinging
	in.TechPrivate = c // attached before StasisStart: the application may answer at once
	if _, err := p.t.router.Inbound(in); err != nil {
		c.end(16)
		return nil, fmt.Errorf("sim %s call %s: %w", p.name, exten, err)
	}
	return c, nil
}

// AttachChannel implements engine.ChannelAttacher: the switch names the call's
// channel before it enters Stasis.
func (c *Call) AttachChannel(ctl engine.ChannelControl) { c.ctl = ctl }

// ChannelID is the switch's channel id for this call.
func (c *Call) ChannelID() string { return c.ctl.ID() }

// State is the call's state as the phone sees it.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Cause is the Q.850 cause the call ended with (0 while up).
func (c *Call) Cause() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// DTMF returns the digits the switch sent to the phone.
func (c *Call) DTMF() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.dtmf)
}

// RingingIndicated reports whether the switch sent a ringing indication (180) to the caller.
func (c *Call) RingingIndicated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ringing
}

// TransferStates are the transfer_progress states the switch reported to this phone.
func (c *Call) TransferStates() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.transfers...)
}

func (c *Call) setState(s CallState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallEnded || c.state == s {
		return false
	}
	c.state = s
	close(c.changed)
	c.changed = make(chan struct{})
	return true
}

func (c *Call) end(cause int) bool {
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return false
	}
	c.state = CallEnded
	c.cause = cause
	for _, t := range c.timers {
		t.Stop()
	}
	c.timers = nil
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return true
}

func (c *Call) after(d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallEnded {
		return
	}
	c.timers = append(c.timers, time.AfterFunc(d, f))
}

// Wait blocks until the call reaches state s (or ends), or ctx ends.
func (c *Call) Wait(ctx context.Context, s CallState) error {
	for {
		c.mu.Lock()
		st, ch := c.state, c.changed
		c.mu.Unlock()
		if st == s {
			return nil
		}
		if st == CallEnded {
			return fmt.Errorf("sim call %s: ended (cause %d) before %s", c.phone.name, c.Cause(), s)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sim call %s: waiting for %s (now %s): %w", c.phone.name, s, st, ctx.Err())
		}
	}
}

// Hangup hangs up from the phone side (BYE/CANCEL, cause 16).
func (c *Call) Hangup() {
	if c.end(16) && c.ctl != nil {
		c.ctl.Hangup(16)
	}
}

// SendDTMF sends digits to the switch, 100 ms each.
func (c *Call) SendDTMF(digits string) {
	for _, d := range digits {
		c.ctl.DTMF(string(d), 100)
	}
}

// SendDigit sends one digit lasting durationMs (RFC 4733 event duration or INFO Duration).
func (c *Call) SendDigit(digit string, durationMs int) { c.ctl.DTMF(digit, durationMs) }

// Ring reports alerting to the switch (incoming calls).
func (c *Call) Ring() {
	if c.setState(CallRinging) {
		c.ctl.Ringing()
	}
}

// Answer answers an incoming call.
func (c *Call) Answer() {
	if c.setState(CallUp) {
		c.attachMedia()
		c.ctl.Answered()
		c.startScriptAfterAnswer()
	}
}

// Reject declines an incoming call with a Q.850 cause (17 busy, 21 rejected, ...).
func (c *Call) Reject(cause int) {
	if c.end(cause) {
		c.ctl.Hangup(cause)
	}
}

// Hold puts the call on hold from the phone side (like a sendonly re-INVITE); Unhold resumes.
func (c *Call) Hold()   { c.ctl.Hold() }
func (c *Call) Unhold() { c.ctl.Unhold() }

// Refer asks the switch for a blind transfer to dest (like a SIP REFER).
func (c *Call) Refer(dest string) { c.ctl.TransferRequested(dest) }

func (c *Call) attachMedia() {
	if c.port != nil {
		c.ctl.SetMedia(c.port)
	}
}

func (c *Call) startScriptAfterAnswer() {
	c.phone.mu.Lock()
	s := c.phone.script
	c.phone.mu.Unlock()
	if s.DTMF != "" {
		c.after(s.DTMFAfter, func() { c.SendDTMF(s.DTMF) })
	}
	if s.HangupAfter > 0 {
		c.after(s.HangupAfter, c.Hangup)
	}
}

// --- engine.Technology ---

// Name implements engine.Technology.
func (t *Tech) Name() string { return "Sim" }

// Exists implements engine.Technology: configured or Go-created phones exist.
func (t *Tech) Exists(resource string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.phones[resource] != nil
}

// Dial implements engine.Technology: the phone's script or OnIncoming decides.
func (t *Tech) Dial(ctx context.Context, ctl engine.ChannelControl, resource string, opts engine.DialOptions) error {
	t.mu.Lock()
	p := t.phones[resource]
	t.mu.Unlock()
	if p == nil {
		return fmt.Errorf("sim: no endpoint %q", resource)
	}
	c := p.newCall(true)
	c.ctl = ctl
	c.Options = opts
	ctl.SetTechPrivate(c)
	if s, ok := ctl.(engine.ProtocolIDSetter); ok {
		s.SetProtocolID(fmt.Sprintf("sim-%d@%s", t.seq.Add(1), resource))
	}
	p.mu.Lock()
	script, hook := p.script, p.onIncoming
	p.mu.Unlock()
	if hook != nil {
		go hook(c)
		return nil
	}
	switch script.Behavior {
	case Answer:
		c.Ring()
		c.after(script.AnswerAfter, c.Answer)
	case Busy:
		c.after(0, func() { c.Reject(17) })
	case NoAnswer:
		c.Ring()
	case Unavailable:
		c.after(TimerB, func() { c.Reject(18) })
	}
	return nil
}

func callOf(ctl engine.ChannelControl) (*Call, error) {
	c, ok := ctl.TechPrivate().(*Call)
	if !ok || c == nil {
		return nil, fmt.Errorf("sim: channel %s has no sim call", ctl.ID())
	}
	return c, nil
}

// Answer implements engine.Technology (the switch answers a phone's call).
func (t *Tech) Answer(ctl engine.ChannelControl) error {
	c, err := callOf(ctl)
	if err != nil {
		return err
	}
	if c.setState(CallUp) {
		c.attachMedia()
		c.startScriptAfterAnswer()
	}
	return nil
}

// Indicate implements engine.Technology.
func (t *Tech) Indicate(ctl engine.ChannelControl, ind engine.Indication) error {
	c, err := callOf(ctl)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.ringing = ind == engine.IndicateRinging || c.ringing
	c.mu.Unlock()
	return nil
}

// Hangup implements engine.Technology (the switch hung up the phone).
func (t *Tech) Hangup(ctl engine.ChannelControl, cause int) error {
	c, err := callOf(ctl)
	if err != nil {
		return err
	}
	c.end(cause)
	return nil
}

// SendDTMF implements engine.Technology.
func (t *Tech) SendDTMF(ctl engine.ChannelControl, digits string, _ int) error {
	c, err := callOf(ctl)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.dtmf = append(c.dtmf, digits...)
	c.mu.Unlock()
	return nil
}

// TransferProgress implements engine.Technology.
func (t *Tech) TransferProgress(ctl engine.ChannelControl, state string) error {
	c, err := callOf(ctl)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.transfers = append(c.transfers, state)
	c.mu.Unlock()
	return nil
}

// Endpoints implements engine.Technology.
func (t *Tech) Endpoints() []engine.EndpointInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]engine.EndpointInfo, 0, len(t.phones))
	for name, p := range t.phones {
		st := "online"
		if p.offline.Load() {
			st = "offline"
		}
		out = append(out, engine.EndpointInfo{Resource: name, State: st})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// --- media ---

// port is a talking phone's MediaPort: it says a sine and listens with Goertzel.
type port struct {
	mu    sync.Mutex
	freq  float64
	level int16
	phase float64
	last  [2 * engine.FrameSamples]int16 // the two most recent frames heard
}

func (p *port) ReadFrame(buf []int16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A rotating phasor instead of math.Sin per sample: 1,000 talking phones stay cheap.
	step := 2 * math.Pi * p.freq / 8000
	cs, sn := math.Cos(step), math.Sin(step)
	re, im := math.Cos(p.phase), math.Sin(p.phase)
	lvl := float64(p.level)
	for i := range buf {
		buf[i] = int16(lvl * im)
		re, im = re*cs-im*sn, re*sn+im*cs
	}
	p.phase = math.Mod(p.phase+step*float64(len(buf)), 2*math.Pi)
	return true
}

func (p *port) WriteFrame(f []int16) {
	p.mu.Lock()
	copy(p.last[:], p.last[engine.FrameSamples:])
	copy(p.last[engine.FrameSamples:], f)
	p.mu.Unlock()
}

// Heard returns the last 40 ms the phone heard (nil without media).
func (c *Call) Heard() []int16 {
	if c.port == nil {
		return nil
	}
	c.port.mu.Lock()
	defer c.port.mu.Unlock()
	return append([]int16(nil), c.port.last[:]...)
}

// Hears reports whether freq is a strong component of what the phone heard in the last 40 ms.
func (c *Call) Hears(freq float64) bool { return c.Level(freq) > 0.1 }

// Level is the share of the heard signal's power at freq (1 = a pure sine at freq, 0 = none).
func (c *Call) Level(freq float64) float64 {
	if c.port == nil {
		return 0
	}
	c.port.mu.Lock()
	defer c.port.mu.Unlock()
	return goertzelShare(c.port.last[:], freq)
}

// goertzelShare is the Goertzel power at freq relative to the total power of x.
func goertzelShare(x []int16, freq float64) float64 {
	n := float64(len(x))
	coeff := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2, energy float64
	for _, v := range x {
		f := float64(v)
		s := f + coeff*s1 - s2
		s2, s1 = s1, s
		energy += f * f
	}
	if energy == 0 {
		return 0
	}
	mag2 := s1*s1 + s2*s2 - coeff*s1*s2
	return (2 * mag2 / n) / energy
}
