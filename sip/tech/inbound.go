package tech

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/ari/engine"
	"linkctl/sip/sipcause"
)

// anonymousEndpoint is the endpoint of callers we cannot identify (as
// Asterisk's "anonymous" endpoint in the reference configuration).
const anonymousEndpoint = "anonymous"

// onInvite handles a new INVITE (or a re-INVITE inside a dialog). sipgo
// terminates the transaction when this returns, so for a new call it blocks
// until the INVITE transaction is settled (answered and ACKed, rejected, or
// cancelled).
func (t *Tech) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, has := to.Params.Get("tag"); has {
			if c := t.findCall(req); c != nil {
				c.onReinvite(req, tx)
				return
			}
			t.respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
	}
	t.respond(tx, req, 100, "Trying")

	callID := ""
	if h := req.CallID(); h != nil {
		callID = string(*h)
	}
	log := t.log.With(zap.String("call_id", callID), zap.String("source", req.Source()))
	v := t.vetInvite(req)
	if v.rejected() {
		log.Info("inbound INVITE refused", zap.Int("status", v.status), zap.Error(v.why))
		t.respond(tx, req, v.status, v.phrase, v.hdrs...)
		return
	}
	rm, endpoint, dtmfInfo := v.media, v.endpoint, v.dtmfInfo
	log = log.With(zap.String("endpoint", endpoint))

	ms, err := t.media(callerIP(t.cfg.ExternalMediaIP))
	if err != nil {
		log.Error("no media port for inbound call", zap.Error(err))
		t.respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Reason", sipcause.ReasonHeader(sipcause.Congestion)))
		return
	}
	transport := strings.ToLower(req.Transport())
	dua := t.dialogs[transport]
	if dua == nil {
		dua = t.dialogs["udp"]
	}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		ms.Close()
		log.Info("inbound INVITE refused by dialog layer", zap.Error(err))
		t.respond(tx, req, 400, "Bad Request")
		return
	}
	c := &call{
		t: t, dir: inbound, log: log, endpoint: endpoint, transport: transport, dtmfInfo: dtmfInfo,
		uas: dlg, inviteTx: tx, media: ms, sessID: uint64(rand.Uint32()), finalSent: make(chan struct{}),
	}
	toTag, _ := dlg.InviteRequest.To().Params.Get("tag")
	c.key = dialogKey(callID, toTag)

	from := req.From()
	in := engine.InboundCall{
		Tech:           Name,
		Endpoint:       endpoint,
		Exten:          req.Recipient.User,
		CallerIDName:   from.DisplayName,
		CallerIDNumber: from.Address.User,
		ProtocolID:     callID,
		Headers:        inboundHeaders(req),
	}
	// The call is ready before the engine sees it: the engine attaches it to the
	// channel (InboundCall.TechPrivate) before StasisStart, so the application's
	// first answer or hangup already finds it, and the ACK to that answer finds it
	// in the dialog table.
	c.lateOffer = v.lateOffer
	if !v.lateOffer {
		c.applyRemote(rm)
	}
	in.TechPrivate = c
	t.addCall(c.key, c)
	router := t.inboundRouter()
	var ctl engine.ChannelControl
	if router == nil {
		err = &engine.RejectError{Cause: sipcause.NormalClearing, Reason: "no switch attached"}
	} else {
		ctl, err = router.Inbound(in)
	}
	if err != nil {
		t.removeCall(c.key)
		cause := sipcause.NormalClearing
		var rej *engine.RejectError
		if errors.As(err, &rej) && rej.Cause > 0 {
			cause = rej.Cause
		}
		status, phrase := sipcause.ToSIP(cause)
		log.Info("inbound call rejected", zap.String("exten", in.Exten), zap.Int("cause", cause), zap.Int("status", status), zap.Error(err))
		ms.Close()
		// Straight to the transaction: it absorbs the ACK and retransmits;
		// nobody needs to wait for that.
		hdrs := []sip.Header{sip.NewHeader("Reason", sipcause.ReasonHeader(cause))}
		if rej != nil && rej.RetryAfter > 0 {
			// The switch is shutting down: tell the caller when to try again.
			hdrs = append(hdrs, retryAfterHeader(rej.RetryAfter))
		}
		t.respond(tx, dlg.InviteRequest, status, phrase, hdrs...)
		dlg.Close()
		return
	}
	ms.OnDTMF(func(digit string, durMs int) { ctl.DTMF(digit, durMs) })
	ctl.SetMedia(ms)
	c.log.Info("inbound call", zap.String("exten", in.Exten), zap.String("caller", in.CallerIDNumber), zap.Stringer("codec", codecName(rm.Codec)), zap.Bool("late_offer", v.lateOffer))

	// A CANCEL: the transaction layer already answered 200 + 487.
	tx.OnCancel(func(r *sip.Request) {
		cause := sipcause.NormalClearing
		if h := r.GetHeader("Reason"); h != nil {
			if n, ok := sipcause.ParseReason(h.Value()); ok {
				cause = n
			}
		}
		go c.remoteEnded(cause, "CANCEL")
	})

	select {
	case <-c.finalSent:
	case <-dlg.Context().Done():
		if c.getState() < stateUp {
			go c.remoteEnded(sipcause.NormalClearing, "INVITE transaction ended")
		}
	case <-t.ctx.Done():
	}
}

// inviteVerdict is what vetInvite decides about a new INVITE before any
// state is created: refused with a status, or accepted with its media and
// endpoint. It is a pure function of the request (and the directory), so the
// fuzz target can drive it.
type inviteVerdict struct {
	status   int // 0: accepted
	phrase   string
	hdrs     []sip.Header
	why      error
	media    remoteMedia
	endpoint string
	dtmfInfo bool
	// lateOffer: the INVITE had no SDP; media is negotiated by 200 OK / ACK.
	lateOffer bool
}

func (v inviteVerdict) rejected() bool { return v.status != 0 }

func (t *Tech) vetInvite(req *sip.Request) inviteVerdict {
	if req.From() == nil || req.To() == nil || req.Contact() == nil || req.CSeq() == nil || req.CallID() == nil {
		return inviteVerdict{status: 400, phrase: "Bad Request", why: errors.New("missing From, To, Contact, CSeq or Call-ID")}
	}
	if ct := req.ContentType(); ct != nil && !strings.EqualFold(strings.TrimSpace(strings.Split(ct.Value(), ";")[0]), "application/sdp") {
		return inviteVerdict{status: 415, phrase: "Unsupported Media Type", hdrs: []sip.Header{sip.NewHeader("Accept", "application/sdp")},
			why: fmt.Errorf("content type %q", ct.Value())}
	}
	if len(bytes.TrimSpace(req.Body())) == 0 {
		// Late offer: we offer in the 200 OK, the answer comes in the ACK.
		endpoint, dtmfInfo, ok := t.identify(req)
		if !ok {
			return inviteVerdict{status: 403, phrase: "Forbidden", why: fmt.Errorf("caller %q from %s not allowed", req.From().Address.User, req.Source())}
		}
		return inviteVerdict{endpoint: endpoint, dtmfInfo: dtmfInfo, lateOffer: true}
	}
	rm, err := parseSDP(req.Body(), t.codecs)
	switch {
	case errors.Is(err, errNoCommonCodec):
		return inviteVerdict{status: 488, phrase: "Not Acceptable Here", why: err,
			hdrs: []sip.Header{sip.NewHeader("Reason", sipcause.ReasonHeader(sipcause.BearerNotAvailable))}}
	case err != nil:
		return inviteVerdict{status: 488, phrase: "Not Acceptable Here", why: err,
			hdrs: []sip.Header{sip.NewHeader("Warning", `399 linkctl "`+sanitizeWarning(err.Error())+`"`)}}
	}
	endpoint, dtmfInfo, ok := t.identify(req)
	if !ok {
		return inviteVerdict{status: 403, phrase: "Forbidden",
			why: fmt.Errorf("caller %q from %s is no trunk, no account registered there, and anonymous calls are off or the account is registered elsewhere", req.From().Address.User, req.Source())}
	}
	return inviteVerdict{media: rm, endpoint: endpoint, dtmfInfo: dtmfInfo}
}

type codecName Codec

func (c codecName) String() string { return c.Name }

func sanitizeWarning(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 {
			return ' '
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// inboundHeaders copies every header of the INVITE in order, as
// PJSIP_HEADER(read,Name) sees them.
func inboundHeaders(req *sip.Request) []engine.Header {
	hs := req.Headers()
	out := make([]engine.Header, 0, len(hs))
	for _, h := range hs {
		out = append(out, engine.Header{Name: h.Name(), Value: h.Value()})
	}
	return out
}

// identify names the endpoint an INVITE came from: a trunk by source
// address; an account by From user when it is registered from this host;
// anyone else is "anonymous" (if sip.allow_anonymous). An account name used
// from elsewhere is refused.
func (t *Tech) identify(req *sip.Request) (endpoint string, dtmfInfo bool, ok bool) {
	if name, found := t.dir.identifyTrunk(req.Source(), req.Transport()); found {
		tr, _, _ := t.dir.trunk(name)
		return name, tr.DTMFMode == "info", true
	}
	user := req.From().Address.User
	if acc, isAcc := t.dir.account(user); isAcc {
		b, reg := t.dir.contact(user)
		if !reg {
			return "", false, false
		}
		bh, _, _ := net.SplitHostPort(b.Source)
		sh, _, _ := net.SplitHostPort(req.Source())
		if !sameHost(bh, sh) {
			return "", false, false
		}
		return user, acc.DTMFMode == "info", true
	}
	if !t.cfg.AllowAnonymous {
		return "", false, false
	}
	return anonymousEndpoint, false, true
}

// Answer implements engine.Technology: 200 OK with our SDP answer.
func (t *Tech) Answer(ch engine.ChannelControl) error {
	c, err := callOf(ch)
	if err != nil {
		return err
	}
	if c.dir != inbound {
		return nil
	}
	c.mu.Lock()
	if c.state >= stateUp {
		c.mu.Unlock()
		return nil // answering twice is a no-op
	}
	if err := c.setStateLocked(stateUp); err != nil {
		c.mu.Unlock()
		return err
	}
	rm := c.remote
	c.mu.Unlock()

	var body []byte
	if c.lateOffer {
		body = c.localSDP(t.codecs, defaultDTMFPT, SendRecv)
	} else {
		body = c.localSDP([]Codec{rm.Codec}, rm.DTMFPT, rm.Direction.reverse())
	}
	res := sip.NewSDPResponseFromRequest(c.uas.InviteRequest, body)
	res.AppendHeader(sip.NewHeader("Server", t.cfg.UserAgent))
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	go func() {
		defer closeOnce(c.finalSent)
		if err := c.uas.WriteResponse(res); err != nil {
			c.log.Warn("200 OK not acknowledged", zap.Error(err))
			if c.getState() == stateUp {
				c.remoteEnded(sipcause.NormalClearing, "no ACK")
				go c.sendBye(sipcause.NormalClearing)
			}
		}
	}()
	return nil
}

// Indicate implements engine.Technology: 180 Ringing or 183 Session Progress.
func (t *Tech) Indicate(ch engine.ChannelControl, ind engine.Indication) error {
	c, err := callOf(ch)
	if err != nil {
		return err
	}
	if c.dir != inbound {
		return nil
	}
	c.mu.Lock()
	if c.state >= stateUp {
		c.mu.Unlock()
		return nil
	}
	_ = c.setStateLocked(stateEarly)
	rm := c.remote
	c.mu.Unlock()
	switch ind {
	case engine.IndicateRinging:
		return c.uas.Respond(180, "Ringing", nil, sip.NewHeader("Server", t.cfg.UserAgent))
	case engine.IndicateProgress:
		if c.lateOffer {
			return c.uas.Respond(183, "Session Progress", nil, sip.NewHeader("Server", t.cfg.UserAgent))
		}
		body := c.localSDP([]Codec{rm.Codec}, rm.DTMFPT, SendRecv)
		return c.uas.Respond(183, "Session Progress", body, sip.NewHeader("Content-Type", "application/sdp"), sip.NewHeader("Server", t.cfg.UserAgent))
	}
	return nil
}

// Hangup implements engine.Technology: final response, CANCEL or BYE with
// "Reason: Q.850;cause=N". It returns at once; the SIP exchange runs behind.
func (t *Tech) Hangup(ch engine.ChannelControl, cause int) error {
	c, err := callOf(ch)
	if err != nil {
		return err
	}
	if cause <= 0 {
		cause = sipcause.NormalClearing
	}
	from, ok := c.beginHangup(cause)
	if !ok {
		return nil
	}
	c.log.Info("hangup", zap.Int("cause", cause), zap.Stringer("state", from), zap.Stringer("dir", c.dir))
	status, phrase := sipcause.ToSIP(cause)
	c.signalEnd(cause, from, status, phrase)
	return nil
}
