package tech

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/ari/engine"
	"linkctl/sip/sipcause"
)

func (t *Tech) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := t.findCall(req)
	if c == nil || c.uas == nil {
		return // ACK of a non-2xx is absorbed by the transaction layer; stray ACKs are dropped
	}
	// Fails harmlessly (CSeq check) for the ACK of a re-INVITE.
	_ = c.uas.ReadAck(req, tx)
	c.mu.Lock()
	late := c.lateOffer && c.remote.Addr == nil
	c.mu.Unlock()
	if !late {
		return
	}
	rm, err := parseSDP(req.Body(), t.codecs)
	if err != nil {
		// Answered but no usable answer: end the call the way chan_pjsip does
		// for media it cannot use.
		c.log.Info("late-offer ACK without a usable SDP answer", zap.Error(err))
		if _, ok := c.beginHangup(sipcause.BearerNotAvailable); ok {
			go func() {
				c.sendBye(sipcause.BearerNotAvailable)
				c.release()
				c.ctl.Hangup(sipcause.BearerNotAvailable)
			}()
		}
		return
	}
	c.applyRemote(rm)
}

func (t *Tech) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := t.findCall(req)
	if c == nil {
		t.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	var err error
	if c.uas != nil {
		err = c.uas.ReadBye(req, tx)
	} else {
		err = c.uac.ReadBye(req, tx)
	}
	if err != nil {
		c.log.Info("BYE refused", zap.Error(err))
		t.respond(tx, req, 500, "Server Internal Error")
		return
	}
	cause := sipcause.NormalClearing
	if h := req.GetHeader("Reason"); h != nil {
		if n, ok := sipcause.ParseReason(h.Value()); ok {
			cause = n
		}
	}
	c.remoteEnded(cause, "BYE")
}

func (t *Tech) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := t.findCall(req)
	if c == nil {
		t.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	digit, dur, ok := parseINFODTMF(ct, req.Body())
	if !ok {
		if len(req.Body()) == 0 {
			t.respond(tx, req, 200, "OK") // keep-alive INFO
			return
		}
		t.respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	t.respond(tx, req, 200, "OK")
	c.log.Debug("INFO DTMF", zap.String("digit", digit), zap.Int("duration_ms", dur))
	c.ctl.DTMF(digit, dur)
}

func (t *Tech) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	// Phones send NOTIFY for their own events (check-sync, keep-alive); we
	// hold no subscriptions of our own, so acknowledge and ignore.
	t.respond(tx, req, 200, "OK")
}

func (t *Tech) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	t.respond(tx, req, 200, "OK", sip.NewHeader("Allow", allowHeader), sip.NewHeader("Accept", "application/sdp"))
}

// onReinvite handles hold/unhold and media changes inside a dialog.
func (c *call) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	if c.getState() != stateUp {
		c.t.respond(tx, req, 491, "Request Pending")
		return
	}
	c.mu.Lock()
	rm := c.remote
	c.mu.Unlock()
	if len(req.Body()) > 0 {
		next, err := parseSDP(req.Body(), []Codec{rm.Codec})
		if err != nil {
			c.log.Info("re-INVITE with unusable SDP", zap.Error(err))
			c.t.respond(tx, req, 488, "Not Acceptable Here")
			return
		}
		rm = next
		changed, hold := c.applyRemote(rm)
		if changed {
			if hold {
				c.log.Info("peer put the call on hold", zap.String("direction", string(rm.Direction)))
				c.ctl.Hold()
			} else {
				c.log.Info("peer resumed the call")
				c.ctl.Unhold()
			}
		}
	}
	body := c.localSDP([]Codec{rm.Codec}, rm.DTMFPT, rm.Direction.reverse())
	res := sip.NewSDPResponseFromRequest(req, body)
	if to := res.To(); to != nil {
		if _, has := to.Params.Get("tag"); !has {
			to.Params.Add("tag", strings.SplitN(c.key, "|", 2)[1])
		}
	}
	if c.uas != nil {
		res.AppendHeader(sip.HeaderClone(&c.t.dialogs[c.transportKey()].ContactHDR))
	} else {
		res.AppendHeader(sip.HeaderClone(&c.t.dialogs[c.transportKey()].ContactHDR))
	}
	res.AppendHeader(sip.NewHeader("Server", c.t.cfg.UserAgent))
	if err := tx.Respond(res); err != nil {
		c.log.Debug("re-INVITE response", zap.Error(err))
	}
}

func (c *call) transportKey() string {
	if strings.EqualFold(c.transport, "tcp") {
		return "tcp"
	}
	return "udp"
}

// referSub is the implicit subscription a REFER creates (RFC 3515).
type referSub struct {
	start      time.Time
	notified   bool
	terminated bool
}

func (t *Tech) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	c := t.findCall(req)
	if c == nil {
		t.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		t.respond(tx, req, 400, "Bad Request")
		return
	}
	dest, err := referDestination(h.Value())
	if err != nil {
		c.log.Info("REFER with unusable Refer-To", zap.String("refer_to", h.Value()), zap.Error(err))
		t.respond(tx, req, 400, "Bad Request")
		return
	}
	if c.getState() != stateUp {
		t.respond(tx, req, 403, "Forbidden")
		return
	}
	c.mu.Lock()
	c.refer = &referSub{start: time.Now()}
	c.mu.Unlock()
	t.respond(tx, req, 202, "Accepted", sip.HeaderClone(&t.dialogs[c.transportKey()].ContactHDR))
	c.log.Info("transfer requested (REFER)", zap.String("destination", dest))
	go c.ctl.TransferRequested(dest)
}

// referDestination is the user part of a Refer-To URI ("<sip:110@host>" -> "110").
func referDestination(v string) (string, error) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return "", errors.New("unterminated <")
		}
		v = v[i+1 : i+j]
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	var u sip.Uri
	if err := sip.ParseUri(v, &u); err != nil {
		return "", fmt.Errorf("parse %q: %w", v, err)
	}
	if u.User == "" {
		return "", fmt.Errorf("no user part in %q", v)
	}
	return u.User, nil
}

// Transfer progress states (ARI transfer_progress).
const (
	TransferProgressState    = "channel_progress"
	TransferAnsweredState    = "channel_answered"
	TransferDeclinedState    = "channel_declined"
	TransferUnavailableState = "channel_unavailable"
)

// ErrTransferState reports a transfer_progress state outside the four ARI values.
var ErrTransferState = errors.New("invalid transfer progress state")

// TransferProgress implements engine.Technology: NOTIFY message/sipfrag as
// Asterisk sends it (trace t14): progress -> 100 Trying (active); answered ->
// 200 OK, declined -> 603 Decline, unavailable -> 503 Service Unavailable
// (terminated;reason=noresource), each final preceded by a 100 if none was
// sent yet. Nothing is sent without a REFER or after the final NOTIFY.
func (t *Tech) TransferProgress(ch engine.ChannelControl, state string) error {
	var final string
	switch state {
	case TransferProgressState:
	case TransferAnsweredState:
		final = "SIP/2.0 200 OK"
	case TransferDeclinedState:
		final = "SIP/2.0 603 Decline"
	case TransferUnavailableState:
		final = "SIP/2.0 503 Service Unavailable"
	default:
		return fmt.Errorf("%w: %q", ErrTransferState, state)
	}
	c, err := callOf(ch)
	if err != nil {
		return nil // not a SIP channel with a REFER: nothing to notify
	}
	c.mu.Lock()
	sub := c.refer
	if sub == nil || sub.terminated || c.state != stateUp {
		c.mu.Unlock()
		return nil
	}
	var frags []string
	if !sub.notified || final == "" {
		frags = append(frags, "SIP/2.0 100 Trying")
	}
	if final != "" {
		frags = append(frags, final)
		sub.terminated = true
	}
	sub.notified = true
	// Queue under the same lock as the decision, so concurrent progress
	// reports reach the phone in the order they were decided.
	start := false
	for i, f := range frags {
		subState := "active;expires=" + strconv.Itoa(max(0, 600-int(time.Since(sub.start).Seconds())-1))
		if final != "" && i == len(frags)-1 {
			subState = "terminated;reason=noresource"
		}
		start = c.enqueueLocked(func() { c.sendNotify(f, subState) }) || start
	}
	c.mu.Unlock()
	if start {
		go c.runWork()
	}
	return nil
}

func (c *call) sendNotify(frag, subState string) {
	req := sip.NewRequest(sip.NOTIFY, c.remoteTarget())
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	req.AppendHeader(sip.NewHeader("Subscription-State", subState))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag + "\r\n"))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.t.ctx), 10*time.Second)
	defer cancel()
	res, err := c.do(ctx, req)
	if err != nil {
		c.log.Warn("NOTIFY failed", zap.String("sipfrag", frag), zap.Error(err))
		return
	}
	c.log.Debug("NOTIFY answered", zap.String("sipfrag", frag), zap.Int("status", res.StatusCode))
}

// SendDTMF implements engine.Technology: RFC 4733 through the media session,
// or SIP INFO (application/dtmf-relay) for endpoints in info mode.
func (t *Tech) SendDTMF(ch engine.ChannelControl, digits string, durationMs int) error {
	c, err := callOf(ch)
	if err != nil {
		return err
	}
	if durationMs <= 0 {
		durationMs = 100
	}
	for _, d := range digits {
		if normalizeDigit(string(d)) == "" {
			return fmt.Errorf("sip dtmf: invalid digit %q", d)
		}
	}
	for _, d := range digits {
		digit := normalizeDigit(string(d))
		c.enqueue(func() {
			if c.getState() != stateUp {
				return
			}
			if c.dtmfInfo {
				req := sip.NewRequest(sip.INFO, c.remoteTarget())
				req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
				req.SetBody(dtmfRelayBody(digit, durationMs))
				ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 10*time.Second)
				_, err := c.do(ctx, req)
				cancel()
				if err != nil {
					c.log.Warn("INFO DTMF failed", zap.String("digit", digit), zap.Error(err))
				}
				return
			}
			if err := c.media.SendDTMF(digit, time.Duration(durationMs)*time.Millisecond); err != nil {
				c.log.Warn("RFC 4733 DTMF failed", zap.String("digit", digit), zap.Error(err))
			}
		})
	}
	return nil
}
