package tech

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"linkctl/ari/engine"
)

// A citizen calls 12345: 100 Trying at once, the engine sees the dialled
// number and every header, 180 and 200 follow the engine, and the caller's
// BYE ends the channel with cause 16 and frees the dialog.
func TestInboundRoutedRingAnswerBye(t *testing.T) {
	eng := newFakeEngine()
	tc := startTech(t, testConfig(), eng, nil)
	citizen := newPeer(t, "citizen")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	dlg, err := citizen.invite(ctx, tc, "12345", sippOffer(6100, "0 101"),
		sip.NewHeader("X-Linkage-Ticket", "GD-2026-000456"),
		sip.NewHeader("User-to-User", "47442D323032362D303030343536;encoding=hex"))
	if err != nil {
		t.Fatal(err)
	}
	citizen.await(gotResponse(sip.INVITE, 100), "100 Trying")
	ch := eng.nextInbound(t)
	if ch.call.Exten != "12345" || ch.call.Endpoint != "anonymous" || ch.call.Tech != "PJSIP" || ch.call.CallerIDNumber != "citizen" {
		t.Fatalf("inbound call = %+v", ch.call)
	}
	want := map[string]string{
		"X-Linkage-Ticket": "GD-2026-000456",
		"User-to-User":     "47442D323032362D303030343536;encoding=hex",
	}
	for _, h := range ch.call.Headers {
		if v, ok := want[h.Name]; ok {
			if h.Value != v {
				t.Fatalf("header %s = %q, want %q", h.Name, h.Value, v)
			}
			delete(want, h.Name)
		}
	}
	if len(want) != 0 {
		t.Fatalf("headers missing from InboundCall: %v (got %v)", want, ch.call.Headers)
	}
	if ch.call.ProtocolID == "" {
		t.Fatal("no ProtocolID (Call-ID)")
	}

	if err := tc.Indicate(ch, engine.IndicateRinging); err != nil {
		t.Fatal(err)
	}
	citizen.await(gotResponse(sip.INVITE, 180), "180 Ringing")
	if err := tc.Indicate(ch, engine.IndicateProgress); err != nil {
		t.Fatal(err)
	}
	sp := citizen.await(gotResponse(sip.INVITE, 183), "183 Session Progress")
	if _, err := parseSDP(sp.Body(), []Codec{CodecPCMU}); err != nil {
		t.Fatalf("183 without early-media SDP: %v", err)
	}
	if err := tc.Answer(ch); err != nil {
		t.Fatal(err)
	}
	if err := tc.Answer(ch); err != nil { // twice is a no-op
		t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	ok := citizen.await(gotResponse(sip.INVITE, 200), "200 OK").(*sip.Response)
	rm, err := parseSDP(ok.Body(), []Codec{CodecPCMU, CodecPCMA})
	if err != nil || rm.Codec != CodecPCMU || rm.DTMFPT != 101 {
		t.Fatalf("SDP answer %q: %+v %v", ok.Body(), rm, err)
	}
	if header(ok, "Contact") == "" {
		t.Fatal("200 OK without Contact")
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if ch.mediaPort() == nil {
		t.Fatal("no media port attached")
	}
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	ch.expect(t, "hangup:16")
	if n := tc.ActiveDialogs(); n != 0 {
		t.Fatalf("%d dialogs left after BYE", n)
	}
}

// Rejections carry the status chan_pjsip uses and "Reason: Q.850;cause=N"
// (traces t13-ws-none-inbound and t15-hangup-reasons-unanswered-inbound).
func TestInboundRejected(t *testing.T) {
	tests := []struct {
		name       string
		cause      int
		viaRouter  bool // rejected by the router (else: engine hangs up a ringing call)
		wantStatus int
	}{
		{"no stasis app", 16, true, 603},
		{"normal", 16, false, 603},
		{"busy", 17, false, 486},
		{"congestion", 34, false, 503},
		{"no answer", 19, false, 480},
		{"rejected", 21, false, 403},
		{"unallocated", 1, false, 404},
	}
	eng := newFakeEngine()
	tc := startTech(t, testConfig(), eng, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			citizen := newPeer(t, "citizen")
			eng.mu.Lock()
			eng.reject = nil
			if tt.viaRouter {
				eng.reject = &engine.RejectError{Cause: tt.cause, Reason: "no app"}
			}
			eng.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			dlg, err := citizen.invite(ctx, tc, "12345", sippOffer(6100, "0 101"))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.viaRouter {
				ch := eng.nextInbound(t)
				if err := tc.Hangup(ch, tt.cause); err != nil {
					t.Fatal(err)
				}
				ch.expectNone(t, 50*time.Millisecond) // our own hangup is not echoed
			}
			err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{})
			var dr *sipgo.ErrDialogResponse
			if !errors.As(err, &dr) || dr.Res.StatusCode != tt.wantStatus {
				t.Fatalf("WaitAnswer = %v, want status %d", err, tt.wantStatus)
			}
			if got := header(dr.Res, "Reason"); got != "Q.850;cause="+itoa(tt.cause) {
				t.Fatalf("Reason = %q", got)
			}
			waitNoDialogs(t, tc)
		})
	}
}

func itoa(n int) string { return (func() string { return fmtInt(n) })() }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func waitNoDialogs(t *testing.T, tc *Tech) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for tc.ActiveDialogs() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d dialogs leaked", tc.ActiveDialogs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Offers we cannot use never reach the engine.
func TestInboundBadOffer(t *testing.T) {
	tests := []struct {
		name       string
		body       []byte
		ctype      string
		wantStatus int
	}{
		{"only G.729", sippOffer(6100, "18 101"), "application/sdp", 488},
		{"not SDP at all", []byte("hello"), "application/sdp", 488},
		{"port zero", sippOffer(0, "0"), "application/sdp", 488},
		{"wrong content type", []byte("<xml/>"), "application/xml", 415},
	}
	eng := newFakeEngine()
	tc := startTech(t, testConfig(), eng, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			citizen := newPeer(t, "citizen")
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			uri := sip.Uri{Scheme: "sip", User: "12345", Host: "127.0.0.1", Port: tc.UDPAddr().Port}
			req := sip.NewRequest(sip.INVITE, uri)
			req.AppendHeader(sip.NewHeader("Content-Type", tt.ctype))
			req.SetBody(tt.body)
			dlg, err := citizen.dua.WriteInvite(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{})
			var dr *sipgo.ErrDialogResponse
			if !errors.As(err, &dr) || dr.Res.StatusCode != tt.wantStatus {
				t.Fatalf("WaitAnswer = %v, want %d", err, tt.wantStatus)
			}
			select {
			case ch := <-eng.inbound:
				t.Fatalf("engine saw call %+v", ch.call)
			default:
			}
			waitNoDialogs(t, tc)
		})
	}
}

// The caller gives up while it rings: CANCEL -> 200 + 487, the channel hangs
// up with the cause of the CANCEL's Reason (or 16).
func TestInboundCancel(t *testing.T) {
	eng := newFakeEngine()
	tc := startTech(t, testConfig(), eng, nil)
	citizen := newPeer(t, "citizen")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	dlg, err := citizen.invite(ctx, tc, "110", sippOffer(6100, "8 0 101"))
	if err != nil {
		t.Fatal(err)
	}
	ch := eng.nextInbound(t)
	if err := tc.Indicate(ch, engine.IndicateRinging); err != nil {
		t.Fatal(err)
	}
	citizen.await(gotResponse(sip.INVITE, 180), "180 Ringing")
	waitCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dlg.WaitAnswer(waitCtx, sipgo.AnswerOptions{}) }()
	stop() // makes sipgo send CANCEL
	<-done
	citizen.await(gotResponse(sip.CANCEL, 200), "200 OK to CANCEL")
	citizen.await(gotResponse(sip.INVITE, 487), "487 Request Terminated")
	ch.expect(t, "hangup:16")
	if err := tc.Hangup(ch, 16); err != nil { // the engine's own hangup afterwards is harmless
		t.Fatal(err)
	}
	waitNoDialogs(t, tc)
}

// With allow_anonymous off, a caller that is neither trunk nor registered
// account is refused with 403 and never reaches the engine.
func TestAnonymousRefused(t *testing.T) {
	cfg := testConfig()
	cfg.AllowAnonymous = false
	eng := newFakeEngine()
	tc := startTech(t, cfg, eng, nil)
	citizen := newPeer(t, "citizen")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	dlg, err := citizen.invite(ctx, tc, "12345", sippOffer(6100, "0 101"))
	if err != nil {
		t.Fatal(err)
	}
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{})
	var dr *sipgo.ErrDialogResponse
	if !errors.As(err, &dr) || dr.Res.StatusCode != 403 {
		t.Fatalf("WaitAnswer = %v, want 403", err)
	}
	select {
	case ch := <-eng.inbound:
		t.Fatalf("engine saw %+v", ch.call)
	default:
	}
}

// An INVITE without SDP (late offer): we offer in the 200 OK and take the
// answer from the ACK; an ACK without a usable answer ends the call (58).
func TestLateOffer(t *testing.T) {
	for _, withAnswer := range []bool{true, false} {
		t.Run(fmt.Sprint("answer in ACK ", withAnswer), func(t *testing.T) {
			eng := newFakeEngine()
			tc := startTech(t, testConfig(), eng, nil)
			citizen := newPeer(t, "citizen")
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			uri := sip.Uri{Scheme: "sip", User: "12345", Host: "127.0.0.1", Port: tc.UDPAddr().Port}
			dlg, err := citizen.dua.WriteInvite(ctx, sip.NewRequest(sip.INVITE, uri))
			if err != nil {
				t.Fatal(err)
			}
			ch := eng.nextInbound(t)
			if err := tc.Answer(ch); err != nil {
				t.Fatal(err)
			}
			if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
				t.Fatal(err)
			}
			offer := string(dlg.InviteResponse.Body())
			if !strings.Contains(offer, "RTP/AVP 0 8 101") {
				t.Fatalf("our late offer %q", offer)
			}
			ack := sip.NewRequest(sip.ACK, dlg.InviteResponse.Contact().Address)
			if withAnswer {
				ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
				ack.SetBody(sippOffer(6200, "8 101"))
			}
			if err := dlg.WriteAck(ctx, ack); err != nil {
				t.Fatal(err)
			}
			if !withAnswer {
				ch.expect(t, "hangup:58")
				bye := citizen.await(gotRequest(sip.BYE), "BYE")
				if got := header(bye, "Reason"); got != "Q.850;cause=58" {
					t.Fatalf("BYE Reason %q", got)
				}
				waitNoDialogs(t, tc)
				return
			}
			deadline := time.Now().Add(waitFor)
			for {
				c := ch.TechPrivate().(*call)
				c.mu.Lock()
				rm := c.remote
				c.mu.Unlock()
				if rm.Addr != nil {
					if rm.Codec != CodecPCMA || rm.Addr.Port != 6200 {
						t.Fatalf("negotiated %+v", rm)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("answer in ACK never applied")
				}
				time.Sleep(10 * time.Millisecond)
			}
			ch.expectNone(t, 50*time.Millisecond)
		})
	}
}
