package phone

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/sip/media"
)

// Incoming is a call offered to the phone, not yet answered.
type Incoming struct {
	p    *Phone
	req  *sip.Request
	uas  *sipgo.DialogServerSession
	once sync.Once // one final answer
	// final is closed once the final response went out (for a 200: once ACKed);
	// sipgo ends the INVITE server transaction when the handler returns, so the
	// handler waits for it.
	final chan struct{}
}

// From is the caller's address (From header URI), e.g. "sip:citizen@127.0.0.1".
func (in *Incoming) From() string {
	if f := in.req.From(); f != nil {
		return f.Address.String()
	}
	return ""
}

// To is the dialled URI (request URI).
func (in *Incoming) To() string { return in.req.Recipient.String() }

// Headers are the INVITE's headers.
func (in *Incoming) Headers() []Header { return headersOf(in.req) }

// Header returns the first value of the named INVITE header ("" if absent).
func (in *Incoming) Header(name string) string {
	if h := in.req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// Cancelled is closed when the caller gave up (CANCEL) or the offer otherwise ended.
func (in *Incoming) Cancelled() <-chan struct{} { return in.uas.Context().Done() }

// Ring sends 180 Ringing.
func (in *Incoming) Ring() error {
	if err := in.uas.Respond(180, "Ringing", nil); err != nil {
		return fmt.Errorf("phone %s: ring: %w", in.p.opts.User, err)
	}
	return nil
}

// Reject refuses the call with status (e.g. 486 Busy Here, 603 Decline).
func (in *Incoming) Reject(status int) error {
	if status < 300 || status > 699 {
		return fmt.Errorf("phone %s: reject with %d: not a final failure status", in.p.opts.User, status)
	}
	var err error
	done := false
	in.once.Do(func() {
		done = true
		defer close(in.final)
		err = in.uas.Respond(status, statusReason(status), nil)
	})
	if !done {
		return fmt.Errorf("phone %s: reject: call already answered or rejected", in.p.opts.User)
	}
	if err != nil {
		return fmt.Errorf("phone %s: reject %d: %w", in.p.opts.User, status, err)
	}
	return nil
}

// Answer answers with our SDP and returns once the caller's ACK arrived.
func (in *Incoming) Answer() (*Call, error) {
	var (
		c   *Call
		err error
	)
	done := false
	in.once.Do(func() {
		done = true
		defer close(in.final)
		c, err = in.answer()
	})
	if !done {
		return nil, fmt.Errorf("phone %s: answer: call already answered or rejected", in.p.opts.User)
	}
	return c, err
}

func (in *Incoming) answer() (*Call, error) {
	p := in.p
	sess, err := p.newSession()
	if err != nil {
		_ = in.uas.Respond(503, "Service Unavailable", nil)
		return nil, err
	}
	c := newCall(p, false, in.req.CallID().Value(), sess)
	answer, neg, err := media.AnswerOfferWith(in.req.Body(), sess.LocalAddr(), p.opts.Codecs, media.AnswerOptions{SessionID: c.sessID, Version: c.sdpVersion})
	if err != nil {
		sess.Close()
		_ = in.uas.Respond(488, "Not Acceptable Here", nil)
		return nil, fmt.Errorf("phone %s: answer: %w", p.opts.User, err)
	}
	c.uas, c.dlg = in.uas, in.uas
	c.target = in.req.Contact().Address
	c.headers = headersOf(in.req)
	if err := p.addCall(c); err != nil {
		sess.Close()
		_ = in.uas.Respond(480, "Temporarily Unavailable", nil)
		return nil, err
	}
	c.startMedia(neg)
	if err := in.uas.RespondSDP(answer); err != nil {
		c.end(EndFailed)
		return nil, fmt.Errorf("phone %s: answer: %w", p.opts.User, err)
	}
	if err := c.transition(StateActive); err != nil {
		return nil, err
	}
	c.log.Debug("call answered", zap.String("codec", neg.Codec.Name))
	return c, nil
}

// onInvite takes a new INVITE (or a re-INVITE within one of our calls).
func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if tag, ok := to.Params.Get("tag"); ok && tag != "" {
			p.onReInvite(req, tx)
			return
		}
	}
	if _, err := media.ParseOffer(req.Body(), p.opts.Codecs); err != nil {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	uas, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	_ = uas.Respond(100, "Trying", nil)
	in := &Incoming{p: p, req: req, uas: uas, final: make(chan struct{})}
	p.mu.Lock()
	handler, closed := p.onIncoming, p.closed
	p.mu.Unlock()
	switch {
	case closed:
		_ = in.Reject(480)
	case handler != nil:
		p.goTracked(func() { handler(in) })
	case p.opts.AutoAnswer:
		p.goTracked(func() { p.autoAnswer(in) })
	default:
		_ = in.Reject(480)
	}
	select {
	case <-in.final:
	case <-uas.Context().Done(): // CANCEL, or the transaction died
	case <-p.ctx.Done():
	}
}

func (p *Phone) autoAnswer(in *Incoming) {
	if err := in.Ring(); err != nil {
		return
	}
	if p.opts.AnswerDelay > 0 {
		select {
		case <-time.After(p.opts.AnswerDelay):
		case <-in.Cancelled():
			return
		case <-p.ctx.Done():
			return
		}
	}
	c, err := in.Answer()
	if err != nil {
		p.log.Debug("auto answer failed", zap.Error(err))
		return
	}
	select {
	case p.answered <- c:
	default:
		p.log.Warn("answered-call queue full; WaitCall will not see this call", zap.String("call_id", c.callID))
	}
}

// onReInvite answers a re-INVITE (hold/unhold, media change) on an existing call.
func (p *Phone) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.mu.Lock()
	c.sdpVersion++
	opts := media.AnswerOptions{SessionID: c.sessID, Version: c.sdpVersion}
	if c.state == StateHeld {
		opts.Direction = media.SendOnly
	}
	c.mu.Unlock()
	answer, neg, err := media.AnswerOfferWith(req.Body(), c.sess.LocalAddr(), p.opts.Codecs, opts)
	if err != nil {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	c.sess.SetRemote(neg.Remote, neg.Codec, neg.DTMFPT)
	c.mu.Lock()
	c.codec, c.remoteHold = neg.Codec, neg.OnHold()
	c.notifyLocked()
	c.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(req, answer)
	if res.Contact() == nil {
		res.AppendHeader(sip.HeaderClone(&p.dua.ContactHDR))
	}
	_ = tx.Respond(res)
	c.log.Debug("re-invite answered", zap.Bool("remote_hold", neg.OnHold()))
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callFor(req)
	if c == nil || c.uas == nil {
		return
	}
	// an ACK for a re-INVITE's 200 does not match the dialog's INVITE CSeq: ignore it
	_ = c.uas.ReadAck(req, tx)
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	reason := EndRemoteHangup
	c.ending.CompareAndSwap(nil, &reason)
	if h := req.GetHeader("Reason"); h != nil {
		c.mu.Lock()
		c.byeReason = h.Value()
		c.mu.Unlock()
	}
	var err error
	if c.uas != nil {
		err = c.uas.ReadBye(req, tx)
	} else if c.uac != nil {
		err = c.uac.ReadBye(req, tx)
	}
	if err != nil {
		respond(tx, req, 200, "OK")
	}
	c.end(EndRemoteHangup)
}

// onInfo takes DTMF sent as SIP INFO (application/dtmf-relay or application/dtmf).
func (p *Phone) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	// record before answering: the next request may be handled the moment we answer
	if digit := parseInfoDigit(req); digit != "" {
		c.addDigit(digit)
	}
	respond(tx, req, 200, "OK")
}

func parseInfoDigit(req *sip.Request) string {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(h.Value())
	}
	body := string(req.Body())
	switch {
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				d := strings.TrimSpace(v)
				if _, ok := media.DTMFEvent(d); ok {
					return strings.ToUpper(d)
				}
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		d := strings.TrimSpace(body)
		if _, ok := media.DTMFEvent(d); ok {
			return strings.ToUpper(d)
		}
	}
	return ""
}

// onNotify records REFER progress (message/sipfrag bodies).
func (p *Phone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	frag := strings.TrimSpace(string(req.Body()))
	if i := strings.IndexAny(frag, "\r\n"); i >= 0 {
		frag = frag[:i] // the status line is what matters
	}
	c.mu.Lock()
	c.notifies = append(c.notifies, frag)
	c.notifyLocked()
	c.mu.Unlock()
	respond(tx, req, 200, "OK") // after recording, so NOTIFYs are kept in order
}
