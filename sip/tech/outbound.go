package tech

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/ari/engine"
	"linkctl/sip/sipcause"
)

// Dial implements engine.Technology: send the INVITE and report progress
// through ctl from a goroutine that lives as long as the INVITE transaction.
func (t *Tech) Dial(ctx context.Context, ctl engine.ChannelControl, resource string, opts engine.DialOptions) error {
	tg, err := t.resolve(resource)
	if err != nil {
		return fmt.Errorf("sip dial %s: %w", resource, err)
	}
	ms, err := t.media(callerIP(t.cfg.ExternalMediaIP))
	if err != nil {
		return fmt.Errorf("sip dial %s: media: %w", resource, err)
	}
	host, _ := t.localHostPort()
	c := &call{
		t: t, dir: outbound, ctl: ctl, endpoint: tg.Endpoint, transport: tg.Transport, dtmfInfo: tg.DTMFInfo,
		media: ms, sessID: uint64(rand.Uint32()),
	}

	req := sip.NewRequest(sip.INVITE, tg.URI)
	req.SetTransport(strings.ToUpper(tg.Transport))
	req.SetDestination(tg.Dest)
	name, number := opts.CallerIDName, opts.CallerIDNumber
	if number == "" {
		number = "linkctl"
	}
	from := &sip.FromHeader{DisplayName: name, Address: sip.Uri{Scheme: "sip", User: number, Host: host}, Params: sip.NewParams()}
	fromTag := sip.GenerateTagN(16)
	from.Params.Add("tag", fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: tg.URI.User, Host: tg.URI.Host}})
	callID := sip.CallIDHeader(newCallID())
	req.AppendHeader(&callID)
	req.AppendHeader(sip.NewHeader("Allow", allowHeader))
	for _, h := range opts.Headers {
		if !validHeader(h) {
			ms.Close()
			return fmt.Errorf("sip dial %s: invalid header %q", resource, h.Name)
		}
		req.AppendHeader(sip.NewHeader(h.Name, h.Value))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", t.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	c.mu.Lock()
	c.sdpVersion = 1
	c.mu.Unlock()
	req.SetBody(buildSDP(ms.LocalAddr(), c.sessID, 1, t.codecs, defaultDTMFPT, SendRecv))
	t.setLocal(req)

	c.key = dialogKey(string(callID), fromTag)
	c.log = t.log.With(zap.String("call_id", string(callID)), zap.String("channel_id", ctl.ID()), zap.String("endpoint", tg.Endpoint))
	ctl.SetTechPrivate(c)
	t.addCall(c.key, c)

	dua := t.dialogs[tg.Transport]
	if dua == nil {
		dua = t.dialogs["udp"]
	}
	dlg, err := dua.WriteInvite(t.ctx, req)
	if err != nil {
		t.removeCall(c.key)
		ms.Close()
		return fmt.Errorf("sip dial %s: send INVITE: %w", resource, err)
	}
	c.uac = dlg
	ms.OnDTMF(func(digit string, durMs int) { ctl.DTMF(digit, durMs) })
	c.log.Info("outbound call", zap.String("uri", tg.URI.String()), zap.Int("headers", len(opts.Headers)))
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		c.runOutbound(tg)
	}()
	return nil
}

// runOutbound waits for the INVITE's outcome and reports it to the engine.
func (c *call) runOutbound(tg target) {
	err := c.uac.WaitAnswer(c.t.ctx, sipgo.AnswerOptions{
		Username: tg.AuthUser,
		Password: tg.AuthPass,
		OnResponse: func(res *sip.Response) error {
			if res.StatusCode <= 100 || res.StatusCode >= 200 {
				return nil
			}
			c.mu.Lock()
			first := !c.provisional
			c.provisional = true
			state := c.state
			cause := c.localCause
			if state < stateUp {
				_ = c.setStateLocked(stateEarly)
			}
			c.mu.Unlock()
			switch {
			case state == stateEnding && first:
				// Hung up before any provisional: CANCEL is allowed now.
				c.t.goEnd(func() { c.sendCancel(cause) })
			case state < stateEnding && first:
				c.ctl.Ringing()
			}
			return nil
		},
	})
	if err == nil {
		c.onOutboundAnswer()
		return
	}
	c.mu.Lock()
	local := c.state >= stateEnding
	c.mu.Unlock()
	var dr *sipgo.ErrDialogResponse
	switch {
	case local:
		c.log.Debug("outbound INVITE finished after local hangup", zap.Error(err))
		c.release()
	case errors.As(err, &dr):
		cause := sipcause.FromSIP(dr.Res.StatusCode)
		if h := dr.Res.GetHeader("Reason"); h != nil {
			if n, ok := sipcause.ParseReason(h.Value()); ok {
				cause = n
			}
		}
		c.remoteEnded(cause, fmt.Sprintf("%d %s", dr.Res.StatusCode, dr.Res.Reason))
	case c.t.ctx.Err() != nil:
		c.release()
	default:
		// Timer B: nobody answered the INVITE at all (trace t06: cause 18).
		c.remoteEnded(sipcause.NoUserResponse, err.Error())
	}
}

func (c *call) onOutboundAnswer() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.t.ctx), 5*time.Second)
	defer cancel()
	if err := c.uac.Ack(ctx); err != nil {
		c.log.Warn("ACK failed", zap.Error(err))
	}
	c.mu.Lock()
	state := c.state
	cause := c.localCause
	c.mu.Unlock()
	if state >= stateEnding {
		// Answered while we were cancelling: close the dialog properly.
		c.sendBye(cause)
		c.release()
		return
	}
	rm, err := parseSDP(c.uac.InviteResponse.Body(), c.t.codecs)
	if err != nil {
		c.log.Warn("unusable SDP answer; hanging up", zap.Error(err))
		c.sendBye(sipcause.BearerNotAvailable)
		c.remoteEnded(sipcause.BearerNotAvailable, "bad SDP answer")
		return
	}
	c.mu.Lock()
	err = c.setStateLocked(stateUp)
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("answer in unexpected state", zap.Error(err))
		return
	}
	c.applyRemote(rm)
	c.ctl.SetMedia(c.media)
	c.log.Info("outbound call answered", zap.Stringer("codec", codecName(rm.Codec)))
	c.ctl.Answered()
}

// sendCancel cancels the pending INVITE with "Reason: Q.850;cause=N".
func (c *call) sendCancel(cause int) {
	inv := c.uac.InviteRequest
	cancelReq := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	cancelReq.AppendHeader(sip.HeaderClone(inv.Via()))
	cancelReq.AppendHeader(sip.HeaderClone(inv.From()))
	cancelReq.AppendHeader(sip.HeaderClone(inv.To()))
	cancelReq.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancelReq.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	sip.CopyHeaders("Route", inv, cancelReq)
	mf := sip.MaxForwardsHeader(70)
	cancelReq.AppendHeader(&mf)
	cancelReq.AppendHeader(sip.NewHeader("Reason", sipcause.ReasonHeader(cause)))
	cancelReq.AppendHeader(sip.NewHeader("User-Agent", c.t.cfg.UserAgent))
	cancelReq.SetBody(nil)
	cancelReq.SetTransport(inv.Transport())
	cancelReq.SetDestination(inv.Destination())
	cancelReq.Laddr = inv.Laddr
	ctx, cancel := c.t.endRequestCtx(32 * time.Second)
	defer cancel()
	res, err := c.t.client.Do(ctx, cancelReq, func(*sipgo.Client, *sip.Request) error { return nil })
	if err != nil {
		c.log.Warn("CANCEL failed", zap.Error(err))
		return
	}
	c.log.Debug("CANCEL answered", zap.Int("status", res.StatusCode))
}

// validHeader rejects header names/values that would break the message
// (PJSIP_HEADER(add,...) comes from ARI clients).
func validHeader(h engine.Header) bool {
	if h.Name == "" || len(h.Name) > 128 || len(h.Value) > 4096 {
		return false
	}
	for _, r := range h.Name {
		if r <= ' ' || r == ':' || r > '~' {
			return false
		}
	}
	return !strings.ContainsAny(h.Value, "\r\n\x00")
}

func newCallID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
