package phone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/sip/media"
)

// CallState is where a call is in its life.
type CallState int

const (
	StateDialing CallState = iota + 1 // INVITE sent (outgoing) or received (incoming)
	StateRinging                      // 180/183 received, or we sent 180
	StateActive                       // answered, media flowing
	StateHeld                         // we put the far end on hold
	StateEnded
)

func (s CallState) String() string {
	switch s {
	case StateDialing:
		return "dialing"
	case StateRinging:
		return "ringing"
	case StateActive:
		return "active"
	case StateHeld:
		return "held"
	case StateEnded:
		return "ended"
	}
	return "CallState(" + strconv.Itoa(int(s)) + ")"
}

// legal lists the transitions a call may make.
var legal = map[CallState][]CallState{
	StateDialing: {StateRinging, StateActive, StateEnded},
	StateRinging: {StateActive, StateEnded},
	StateActive:  {StateHeld, StateEnded},
	StateHeld:    {StateActive, StateEnded},
}

// ErrIllegalTransition is returned (wrapped) for a call state change that makes no sense.
var ErrIllegalTransition = errors.New("illegal call state transition")

// EndReason says why a call ended.
type EndReason string

const (
	EndLocalHangup  EndReason = "local hangup"
	EndRemoteHangup EndReason = "remote hangup"
	EndDialogGone   EndReason = "dialog ended"
	EndPhoneClosed  EndReason = "phone closed"
	EndFailed       EndReason = "call setup failed"
)

// dialog is what the UAC and UAS dialog sessions of sipgo have in common.
type dialog interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	WriteRequest(req *sip.Request) error
	WriteBye(ctx context.Context, bye *sip.Request) error
	Context() context.Context
}

// Call is one established (or establishing) call of a phone.
type Call struct {
	p        *Phone
	log      *zap.Logger
	callID   string
	outgoing bool
	sess     *media.Session
	sessID   uint64
	listener *media.ToneListener
	src      media.Source
	done     chan struct{}
	endOnce  sync.Once
	// ending is the reason of a BYE in flight (either way), so that the dialog
	// context ending meanwhile is attributed to it rather than to "dialog ended".
	ending atomic.Pointer[EndReason]

	uac *sipgo.DialogClientSession
	uas *sipgo.DialogServerSession
	dlg dialog

	mu         sync.Mutex
	state      CallState
	endReason  EndReason
	byeReason  string // Reason header of the far end's BYE ("" if none)
	sdpVersion uint64
	codec      media.Codec
	remoteHold bool
	target     sip.Uri // remote target for in-dialog requests
	headers    []Header
	heard      Timeline
	last       media.Hearing
	digits     strings.Builder
	notifies   []string
	changed    chan struct{} // closed and replaced on every change observers wait for
}

func newCall(p *Phone, outgoing bool, callID string, sess *media.Session) *Call {
	c := &Call{
		p:        p,
		callID:   callID,
		outgoing: outgoing,
		sess:     sess,
		sessID:   uint64(time.Now().UnixNano()) & (1<<62 - 1),
		listener: media.NewToneListener(p.opts.Listen, media.ListenerOptions{}),
		src:      media.Silence(0),
		done:     make(chan struct{}),
		state:    StateDialing,
		changed:  make(chan struct{}),
	}
	c.sdpVersion = c.sessID
	if p.opts.ToneHz > 0 {
		c.src = media.SineSource(p.opts.ToneHz, p.opts.ToneAmplitude)
	}
	c.log = p.log.With(zap.String("call_id", callID), zap.Bool("outgoing", outgoing))
	sess.OnDTMF(func(d string, _ int) { c.addDigit(d) })
	return c
}

// Call places a call to target: a full SIP URI, or a number/user routed to the
// registrar. It returns once the call is answered (and ACKed); a refusal is a
// *CallError with the status. Cancelling ctx before the answer sends CANCEL.
func (p *Phone) Call(ctx context.Context, target string, headers ...Header) (*Call, error) {
	uri, err := p.targetURI(target)
	if err != nil {
		return nil, fmt.Errorf("phone %s: %w", p.opts.User, err)
	}
	sess, err := p.newSession()
	if err != nil {
		return nil, err
	}
	callID := sip.GenerateTagN(24)
	c := newCall(p, true, callID, sess)
	offer, err := media.Offer{Local: sess.LocalAddr(), SessionID: c.sessID, Version: c.sdpVersion, Codecs: p.opts.Codecs}.Marshal()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("phone %s: call %s: %w", p.opts.User, target, err)
	}
	req := sip.NewRequest(sip.INVITE, uri)
	from := &sip.FromHeader{DisplayName: p.opts.DisplayName, Address: p.aor(), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: uri.User, Host: uri.Host, Port: uri.Port}, Params: sip.NewParams()})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	for _, h := range headers {
		req.AppendHeader(sip.NewHeader(h.Name, h.Value))
	}
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	req.SetBody(offer)

	if err := p.addCall(c); err != nil {
		sess.Close()
		return nil, err
	}
	fail := func(err error) (*Call, error) {
		c.end(EndFailed)
		return nil, err
	}
	uac, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		return fail(fmt.Errorf("phone %s: invite %s: %w", p.opts.User, target, err))
	}
	c.uac, c.dlg = uac, uac
	err = uac.WaitAnswer(ctx, sipgo.AnswerOptions{
		Username: p.opts.User,
		Password: p.opts.Password,
		OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 || res.StatusCode == 183 {
				_ = c.transition(StateRinging)
				if len(res.Body()) > 0 {
					c.earlyMedia(res.Body())
				}
			}
			return nil
		},
	})
	if err != nil {
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return fail(&CallError{Method: "INVITE", Status: dr.Res.StatusCode, Reason: dr.Res.Reason})
		}
		return fail(fmt.Errorf("phone %s: call %s: %w", p.opts.User, target, err))
	}
	res := uac.InviteResponse
	neg, err := media.ParseAnswer(res.Body(), p.opts.Codecs)
	if ackErr := uac.Ack(ctx); ackErr != nil {
		return fail(fmt.Errorf("phone %s: ack: %w", p.opts.User, ackErr))
	}
	if err != nil {
		byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = uac.WriteBye(byeCtx, c.inDialog(sip.BYE, res.Contact()))
		cancel()
		return fail(fmt.Errorf("phone %s: call %s: answer SDP: %w", p.opts.User, target, err))
	}
	target2 := uri
	if ct := res.Contact(); ct != nil {
		target2 = ct.Address
	}
	c.mu.Lock()
	c.target = target2
	c.headers = headersOf(res)
	c.mu.Unlock()
	c.startMedia(neg)
	if err := c.transition(StateActive); err != nil {
		return fail(err)
	}
	c.log.Debug("call answered", zap.String("codec", neg.Codec.Name))
	return c, nil
}

// earlyMedia starts listening to a 183's SDP before the answer.
func (c *Call) earlyMedia(body []byte) {
	neg, err := media.ParseAnswer(body, c.p.opts.Codecs)
	if err != nil {
		c.log.Debug("early media SDP unusable", zap.Error(err))
		return
	}
	c.startMedia(neg)
}

// startMedia points RTP at the far end and starts the 20 ms media loop (once).
func (c *Call) startMedia(neg media.Negotiated) {
	c.sess.SetRemote(neg.Remote, neg.Codec, neg.DTMFPT)
	c.mu.Lock()
	started := c.codec.Name != ""
	c.codec = neg.Codec
	c.remoteHold = neg.OnHold()
	c.mu.Unlock()
	if !started {
		c.p.goTracked(c.mediaLoop)
	}
}

func (c *Call) mediaLoop() {
	t := time.NewTicker(media.FrameDuration)
	defer t.Stop()
	out := make([]int16, media.FrameSamples)
	in := make([]int16, media.FrameSamples)
	var dlgDone <-chan struct{}
	for {
		if dlgDone == nil && c.dlg != nil {
			dlgDone = c.dialogDone()
		}
		select {
		case <-c.done:
			return
		case <-dlgDone:
			reason := EndDialogGone
			if r := c.ending.Load(); r != nil {
				reason = *r
			}
			c.end(reason)
			return
		case now := <-t.C:
			c.mu.Lock()
			sending := c.state != StateHeld
			c.mu.Unlock()
			if sending {
				c.src.Next(out)
				c.sess.WriteFrame(out)
			}
			c.sess.ReadFrame(in)
			if h, ok := c.listener.Feed(in); ok {
				c.record(now, h)
			}
		}
	}
}

func (c *Call) dialogDone() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dlg == nil {
		return nil
	}
	return c.dlg.Context().Done()
}

func (c *Call) record(now time.Time, h media.Hearing) {
	c.mu.Lock()
	c.heard = c.heard.add(now.Add(-100*time.Millisecond), now, h.Present, h.Silent)
	c.last = h
	c.notifyLocked()
	c.mu.Unlock()
}

func (c *Call) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Call) addDigit(d string) {
	c.mu.Lock()
	c.digits.WriteString(d)
	c.notifyLocked()
	c.mu.Unlock()
}

// transition moves the call to state `to`, refusing changes that make no sense.
func (c *Call) transition(to CallState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transitionLocked(to)
}

func (c *Call) transitionLocked(to CallState) error {
	from := c.state
	if from == to {
		return nil
	}
	if !slices.Contains(legal[from], to) {
		return fmt.Errorf("call %s: %s -> %s: %w", c.callID, from, to, ErrIllegalTransition)
	}
	c.state = to
	c.notifyLocked()
	return nil
}

// end finishes the call locally (idempotent): media stops, RTP port released.
func (c *Call) end(reason EndReason) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.state = StateEnded
		c.endReason = reason
		c.notifyLocked()
		c.mu.Unlock()
		close(c.done)
		c.p.removeCall(c)
		if err := c.sess.Close(); err != nil {
			c.log.Debug("rtp close", zap.Error(err))
		}
		c.log.Debug("call ended", zap.String("reason", string(reason)))
	})
}

// ID is the SIP Call-ID.
func (c *Call) ID() string { return c.callID }

// State is the call's current state.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// EndReason says why the call ended ("" while it lasts).
func (c *Call) EndReason() EndReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}

// ByeReason is the Reason header of the BYE that ended the call from the far
// end, e.g. "Q.850;cause=16" ("" when none came or the call is not over).
func (c *Call) ByeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byeReason
}

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Codec is the negotiated audio codec.
func (c *Call) Codec() media.Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codec
}

// RemoteHold reports whether the far end has put us on hold (sendonly/inactive).
func (c *Call) RemoteHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteHold
}

// Headers are the SIP headers of the INVITE we received (incoming call) or of the
// 200 OK we received (outgoing call).
func (c *Call) Headers() []Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.headers)
}

// Header returns the first value of the named header ("" if absent).
func (c *Call) Header(name string) string {
	for _, h := range c.Headers() {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Heard is the timeline of what the call heard so far.
func (c *Call) Heard() Timeline {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heard.clone()
}

// HearingNow is the latest 100 ms verdict.
func (c *Call) HearingNow() media.Hearing {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.last
	h.Present = slices.Clone(h.Present)
	return h
}

// Digits are the DTMF digits received so far (RFC 4733 and INFO), in order.
func (c *Call) Digits() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.digits.String()
}

// Notifies are the sipfrag bodies of the NOTIFYs received for our REFERs, e.g.
// "SIP/2.0 100 Trying", "SIP/2.0 200 OK".
func (c *Call) Notifies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.notifies)
}

// Stats are the call's RTP counters.
func (c *Call) Stats() media.Stats { return c.sess.Stats() }

// WaitUntil blocks until cond holds (checked after every change: 100 ms verdict,
// digit, NOTIFY, state) or ctx ends.
func (c *Call) WaitUntil(ctx context.Context, cond func(c *Call) bool) error {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		if cond(c) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("call %s: wait: %w", c.callID, ctx.Err())
		}
	}
}

// WaitHear waits until freq is heard in the latest verdict.
func (c *Call) WaitHear(ctx context.Context, freq float64) error {
	return c.WaitUntil(ctx, func(c *Call) bool { return slices.Contains(c.HearingNow().Present, freq) })
}

// WaitNotHear waits until freq is absent from the latest verdict.
func (c *Call) WaitNotHear(ctx context.Context, freq float64) error {
	return c.WaitUntil(ctx, func(c *Call) bool {
		h := c.HearingNow()
		return !slices.Contains(h.Present, freq)
	})
}

// WaitDigits waits until the received digits end with want.
func (c *Call) WaitDigits(ctx context.Context, want string) error {
	return c.WaitUntil(ctx, func(c *Call) bool { return strings.HasSuffix(c.Digits(), want) })
}

// SendDTMF sends digits the phone's way (RFC 4733: 100 ms events 60 ms apart;
// INFO: one application/dtmf-relay request per digit).
func (c *Call) SendDTMF(digits string) error {
	for i, d := range digits {
		digit := string(d)
		if _, ok := media.DTMFEvent(digit); !ok {
			return fmt.Errorf("call %s: send dtmf: %q is not a DTMF digit", c.callID, digit)
		}
		if i > 0 {
			time.Sleep(60 * time.Millisecond)
		}
		var err error
		if c.p.opts.DTMFMode == DTMFInfo {
			err = c.sendInfo(digit)
		} else {
			err = c.sess.SendDTMF(digit, 100*time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("call %s: send dtmf %s: %w", c.callID, digit, err)
		}
	}
	return nil
}

func (c *Call) sendInfo(digit string) error {
	req := sip.NewRequest(sip.INFO, c.remoteTarget())
	ct := sip.ContentTypeHeader("application/dtmf-relay")
	req.AppendHeader(&ct)
	req.SetBody([]byte("Signal=" + digit + "\r\nDuration=100\r\n"))
	_, err := c.do("INFO", req)
	return err
}

// inDialog builds an in-dialog request to the remote target (or to contact, when
// the target is not known yet), leaving from our listening socket.
func (c *Call) inDialog(method sip.RequestMethod, contact *sip.ContactHeader) *sip.Request {
	target := c.remoteTarget()
	if contact != nil {
		target = contact.Address
	}
	req := sip.NewRequest(method, target)
	c.p.fromListener(req)
	return req
}

func (c *Call) remoteTarget() sip.Uri {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.target
}

// do sends an in-dialog request and wants a 2xx.
func (c *Call) do(method string, req *sip.Request) (*sip.Response, error) {
	if c.State() == StateEnded {
		return nil, fmt.Errorf("call %s: %s: call has ended", c.callID, method)
	}
	ctx, cancel := context.WithTimeout(c.p.ctx, 5*time.Second)
	defer cancel()
	c.p.fromListener(req)
	res, err := c.dlg.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %s: %w", c.callID, method, err)
	}
	if !res.IsSuccess() {
		return res, &CallError{Method: method, Status: res.StatusCode, Reason: res.Reason}
	}
	return res, nil
}

// Hangup ends the call with BYE. Hanging up an ended call does nothing.
func (c *Call) Hangup(ctx context.Context) error {
	if c.State() == StateEnded {
		return nil
	}
	reason := EndLocalHangup
	c.ending.CompareAndSwap(nil, &reason)
	err := c.dlg.WriteBye(ctx, c.inDialog(sip.BYE, nil))
	c.end(EndLocalHangup)
	if err != nil {
		return fmt.Errorf("call %s: bye: %w", c.callID, err)
	}
	return nil
}

// Hold puts the far end on hold (re-INVITE with a=sendonly); the phone stops sending its tone.
func (c *Call) Hold() error { return c.reinvite(media.SendOnly, StateHeld) }

// Unhold resumes the call (re-INVITE with a=sendrecv).
func (c *Call) Unhold() error { return c.reinvite(media.SendRecv, StateActive) }

func (c *Call) reinvite(dir string, to CallState) error {
	c.mu.Lock()
	c.sdpVersion++
	codecs := []media.Codec{c.codec}
	for _, o := range c.p.opts.Codecs {
		if !o.Same(c.codec) {
			codecs = append(codecs, o)
		}
	}
	offer, err := media.Offer{Local: c.sess.LocalAddr(), SessionID: c.sessID, Version: c.sdpVersion, Codecs: codecs, Direction: dir}.Marshal()
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("call %s: re-invite: %w", c.callID, err)
	}
	req := sip.NewRequest(sip.INVITE, c.remoteTarget())
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	req.SetBody(offer)
	res, err := c.do("re-INVITE", req)
	if res != nil && res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, c.remoteTarget())
		c.p.fromListener(ack)
		if ackErr := c.dlg.WriteRequest(ack); ackErr != nil {
			c.log.Warn("re-invite ack failed", zap.Error(ackErr))
		}
	}
	if err != nil {
		return err
	}
	neg, err := media.ParseAnswer(res.Body(), codecs)
	if err != nil {
		return fmt.Errorf("call %s: re-invite answer: %w", c.callID, err)
	}
	c.sess.SetRemote(neg.Remote, neg.Codec, neg.DTMFPT)
	c.mu.Lock()
	c.codec = neg.Codec
	c.mu.Unlock()
	return c.transition(to)
}

// Refer asks the far end to transfer the call to target (blind transfer, the
// phone's transfer key): a number routed via the registrar's domain or a SIP URI.
// The NOTIFY sipfrags that follow are recorded (Notifies).
func (c *Call) Refer(target string) error {
	uri, err := c.p.targetURI(target)
	if err != nil {
		return fmt.Errorf("call %s: refer: %w", c.callID, err)
	}
	req := sip.NewRequest(sip.REFER, c.remoteTarget())
	req.AppendHeader(sip.NewHeader("Refer-To", "<"+uri.String()+">"))
	aor := c.p.aor()
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+aor.String()+">"))
	_, err = c.do("REFER", req)
	return err
}

// WaitNotify waits for a NOTIFY sipfrag carrying the given final status (e.g. 200).
func (c *Call) WaitNotify(ctx context.Context, status int) error {
	want := "SIP/2.0 " + strconv.Itoa(status)
	return c.WaitUntil(ctx, func(c *Call) bool {
		return slices.ContainsFunc(c.Notifies(), func(n string) bool { return strings.HasPrefix(n, want) })
	})
}

// RTPAddr is the call's local RTP address.
func (c *Call) RTPAddr() *net.UDPAddr { return c.sess.LocalAddr() }
