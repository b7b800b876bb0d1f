package tech

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"linkctl/ari/engine"
)

// answeredOutbound dials a registered agent phone that answers, as in t14.
func answeredOutbound(t *testing.T, tc *Tech, phone *peer) *fakeChan {
	t.Helper()
	phone.answerWith(180, 200)
	ch := newFakeChan("agent")
	if err := tc.Dial(context.Background(), ch, phone.user, engine.DialOptions{CallerIDNumber: "12345"}); err != nil {
		t.Fatal(err)
	}
	ch.expect(t, "ringing")
	ch.expect(t, "answered")
	phone.await(gotRequest(sip.ACK), "ACK")
	return ch
}

// phoneRequest sends an in-dialog request from the phone's side of the call.
func phoneRequest(t *testing.T, phone *peer, method sip.RequestMethod, body []byte, hdrs ...sip.Header) *sip.Response {
	t.Helper()
	phone.mu.Lock()
	dlg := phone.uas
	phone.mu.Unlock()
	if dlg == nil {
		t.Fatal("phone has no dialog")
	}
	req := sip.NewRequest(method, dlg.InviteRequest.Contact().Address)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if body != nil {
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := dlg.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

// The agent's transfer key (REFER) under ari-only handling: 202 at once, no
// NOTIFY until the application reports progress, then NOTIFY sipfrag exactly
// as Asterisk sends it (trace t14).
func TestReferNotify(t *testing.T) {
	tests := []struct {
		name   string
		states []string
		want   []string // "sipfrag|subscription-state prefix"
	}{
		{"progress progress answered progress",
			[]string{"channel_progress", "channel_progress", "channel_answered", "channel_progress"},
			[]string{"SIP/2.0 100 Trying|active;expires=", "SIP/2.0 100 Trying|active;expires=", "SIP/2.0 200 OK|terminated;reason=noresource"}},
		{"declined first",
			[]string{"channel_declined"},
			[]string{"SIP/2.0 100 Trying|active;expires=", "SIP/2.0 603 Decline|terminated;reason=noresource"}},
		{"progress unavailable",
			[]string{"channel_progress", "channel_unavailable"},
			[]string{"SIP/2.0 100 Trying|active;expires=", "SIP/2.0 503 Service Unavailable|terminated;reason=noresource"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := startTech(t, agentConfig(), newFakeEngine(), nil)
			phone := registeredPhone(t, tc, "a12345-1001", "pw-1001")
			ch := answeredOutbound(t, tc, phone)

			if err := tc.TransferProgress(ch, "channel_progress"); err != nil { // before any REFER: nothing
				t.Fatal(err)
			}
			res := phoneRequest(t, phone, sip.REFER, nil,
				sip.NewHeader("Refer-To", "<sip:110@127.0.0.1>"),
				sip.NewHeader("Referred-By", "<sip:a12345-1001@127.0.0.1>"))
			if res.StatusCode != 202 {
				t.Fatalf("REFER -> %d", res.StatusCode)
			}
			ch.expect(t, "transfer:110")
			time.Sleep(100 * time.Millisecond)
			if n := phone.count(gotRequest(sip.NOTIFY)); n != 0 {
				t.Fatalf("%d NOTIFY before any progress", n)
			}
			if err := tc.TransferProgress(ch, "bogus"); err == nil {
				t.Fatal("bogus state accepted")
			}
			for _, st := range tt.states {
				if err := tc.TransferProgress(ch, st); err != nil { // back to back: order is the tech's job
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(waitFor)
			for len(phoneNotifies(phone)) < len(tt.want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // and no more than that
			var got []string
			for _, m := range phoneNotifies(phone) {
				if header(m, "Event") != "refer" || header(m, "Content-Type") != "message/sipfrag;version=2.0" {
					t.Fatalf("NOTIFY headers: Event %q Content-Type %q", header(m, "Event"), header(m, "Content-Type"))
				}
				got = append(got, strings.TrimRight(string(m.Body()), "\r\n")+"|"+header(m, "Subscription-State"))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("NOTIFYs %q, want %q", got, tt.want)
			}
			for i := range got {
				frag, sub, _ := strings.Cut(tt.want[i], "|")
				if !strings.HasPrefix(got[i], frag+"|"+sub) {
					t.Fatalf("NOTIFY %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func phoneNotifies(p *peer) []*sip.Request {
	p.wire.mu.Lock()
	defer p.wire.mu.Unlock()
	var out []*sip.Request
	for _, m := range p.wire.msgs {
		if r, ok := m.msg.(*sip.Request); ok && m.in && r.Method == sip.NOTIFY {
			out = append(out, r)
		}
	}
	return out
}

// DTMF by SIP INFO in both formats (trace t09) and ARI DTMF sent as INFO to
// an info-mode endpoint.
func TestInfoDTMF(t *testing.T) {
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	phone := registeredPhone(t, tc, "a12345-1001", "pw-1001") // dtmf_mode: info
	ch := answeredOutbound(t, tc, phone)
	tests := []struct {
		ctype, body, want string
		status            int
	}{
		{"application/dtmf-relay", "Signal=*\r\nDuration=250\r\n", "dtmf:*:250", 200},
		{"application/dtmf-relay", "Signal=1\r\nDuration=160\r\n", "dtmf:1:160", 200},
		{"application/dtmf", "#", "dtmf:#:100", 200},
		{"application/dtmf-relay", "Signal=x\r\n", "", 415},
		{"text/plain", "hello", "", 415},
	}
	for _, tt := range tests {
		res := phoneRequest(t, phone, sip.INFO, []byte(tt.body), sip.NewHeader("Content-Type", tt.ctype))
		if res.StatusCode != tt.status {
			t.Fatalf("INFO %s %q -> %d, want %d", tt.ctype, tt.body, res.StatusCode, tt.status)
		}
		if tt.want != "" {
			ch.expect(t, tt.want)
		}
	}
	ch.expectNone(t, 50*time.Millisecond)

	if err := tc.SendDTMF(ch, "12", 120); err != nil {
		t.Fatal(err)
	}
	if err := tc.SendDTMF(ch, "1x", 120); err == nil {
		t.Fatal("invalid digit accepted")
	}
	phone.await(func(m wireMsg) bool {
		return gotRequest(sip.INFO)(m) && string(m.msg.Body()) == "Signal=2\r\nDuration=120\r\n"
	}, "INFO Signal=2")
	if n := phone.count(func(m wireMsg) bool {
		return gotRequest(sip.INFO)(m) && header(m.msg, "Content-Type") == "application/dtmf-relay"
	}); n != 2 {
		t.Fatalf("%d INFO dtmf-relay sent, want 2", n)
	}
}

// re-INVITE sendonly/inactive holds the channel, sendrecv resumes it; the
// answer mirrors the direction.
func TestReinviteHold(t *testing.T) {
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	phone := registeredPhone(t, tc, "a110-2001", "pw-2001")
	ch := answeredOutbound(t, tc, phone)
	offer := func(dir string) []byte {
		return []byte(strings.Replace(string(sippOffer(40000, "0 101")), "a=fmtp:101 0-16\r\n", "a=fmtp:101 0-16\r\na="+dir+"\r\n", 1))
	}
	tests := []struct {
		dir, event, answerDir string
	}{
		{"sendonly", "hold", "recvonly"},
		{"sendrecv", "unhold", "sendrecv"},
		{"inactive", "hold", "inactive"},
		{"sendrecv", "unhold", "sendrecv"},
	}
	for _, tt := range tests {
		res := phoneRequest(t, phone, sip.INVITE, offer(tt.dir), sip.NewHeader("Content-Type", "application/sdp"))
		if res.StatusCode != 200 {
			t.Fatalf("re-INVITE %s -> %d", tt.dir, res.StatusCode)
		}
		if !strings.Contains(string(res.Body()), "a="+tt.answerDir+"\r\n") {
			t.Fatalf("answer to %s: %q", tt.dir, res.Body())
		}
		ch.expect(t, tt.event)
	}
	res := phoneRequest(t, phone, sip.INVITE, sippOffer(40000, "18"), sip.NewHeader("Content-Type", "application/sdp"))
	if res.StatusCode != 488 {
		t.Fatalf("re-INVITE with G.729 only -> %d, want 488", res.StatusCode)
	}
	ch.expectNone(t, 50*time.Millisecond)
}

// A BYE from the agent ends the outbound channel with cause 16; a BYE for an
// unknown dialog gets 481.
func TestByeFromPhone(t *testing.T) {
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	phone := registeredPhone(t, tc, "a110-2001", "pw-2001")
	ch := answeredOutbound(t, tc, phone)
	res := phoneRequest(t, phone, sip.BYE, nil, sip.NewHeader("Reason", "Q.850;cause=17"))
	if res.StatusCode != 200 {
		t.Fatalf("BYE -> %d", res.StatusCode)
	}
	ch.expect(t, "hangup:17")
	waitNoDialogs(t, tc)

	stray := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: tc.UDPAddr().Port})
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}, Params: sip.NewParams()}
	to.Params.Add("tag", "nope")
	stray.AppendHeader(to)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	r, err := phone.cli.Do(ctx, stray)
	if err != nil || r.StatusCode != 481 {
		t.Fatalf("stray BYE -> %v %v, want 481", r, err)
	}
}

// The controller reports the transfer answered and at once releases the
// transferring agent: the final NOTIFY must reach the phone before the BYE
// that ends its dialog (as Asterisk orders them), or the phone, whose
// subscription died with the dialog, never learns the transfer succeeded.
func TestFinalNotifyBeforeBye(t *testing.T) {
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	phone := registeredPhone(t, tc, "a12345-1001", "pw-1001")
	ch := answeredOutbound(t, tc, phone)
	res := phoneRequest(t, phone, sip.REFER, nil,
		sip.NewHeader("Refer-To", "<sip:110@127.0.0.1>"),
		sip.NewHeader("Referred-By", "<sip:a12345-1001@127.0.0.1>"))
	if res.StatusCode != 202 {
		t.Fatalf("REFER -> %d", res.StatusCode)
	}
	ch.expect(t, "transfer:110")
	if err := tc.TransferProgress(ch, "channel_answered"); err != nil {
		t.Fatal(err)
	}
	if err := tc.Hangup(ch, 16); err != nil {
		t.Fatal(err)
	}
	phone.await(gotRequest(sip.BYE), "BYE")
	var order []string
	phone.wire.mu.Lock()
	for _, m := range phone.wire.msgs {
		if r, ok := m.msg.(*sip.Request); ok && m.in && (r.Method == sip.NOTIFY || r.Method == sip.BYE) {
			order = append(order, string(r.Method)+" "+strings.TrimRight(string(r.Body()), "\r\n"))
		}
	}
	phone.wire.mu.Unlock()
	want := []string{"NOTIFY SIP/2.0 100 Trying", "NOTIFY SIP/2.0 200 OK", "BYE "}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Fatalf("phone received %q, want %q", order, want)
	}
}
