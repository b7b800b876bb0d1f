package tech

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"linkctl/ari/engine"
	"linkctl/sip/sipcause"
)

// Close ends every call still live with cause 16 before the transport closes:
// answered calls (either direction) get a BYE the peer answers, a ringing
// outgoing call a CANCEL, an incoming call not yet answered a 503. The engine
// hears of each hang-up, and no dialog is left.
func TestCloseEndsLiveCalls(t *testing.T) {
	tests := []struct {
		name     string
		outbound bool
		answered bool
		want     func(wireMsg) bool // what the peer must have seen before Close returned
		what     string
	}{
		{"inbound answered: BYE", false, true, gotRequest(sip.BYE), "BYE"},
		{"inbound ringing: 503", false, false, gotResponse(sip.INVITE, 503), "503 to the INVITE"},
		{"outbound answered: BYE", true, true, gotRequest(sip.BYE), "BYE"},
		{"outbound ringing: CANCEL", true, false, gotRequest(sip.CANCEL), "CANCEL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := newFakeEngine()
			tech := startTech(t, agentConfig(), eng, nil)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			var (
				peer *peer
				ch   *fakeChan
			)
			if tc.outbound {
				peer = registeredPhone(t, tech, "a110-2001", "pw-2001")
				if tc.answered {
					peer.answerWith(180, 200)
				} else {
					peer.answerWith(180)
				}
				ch = newFakeChan("out")
				if err := tech.Dial(ctx, ch, "a110-2001", dialOpts()); err != nil {
					t.Fatal(err)
				}
				ch.expect(t, "ringing")
				if tc.answered {
					ch.expect(t, "answered")
					peer.await(gotRequest(sip.ACK), "ACK")
				}
			} else {
				peer = newPeer(t, "citizen")
				dlg, err := peer.invite(ctx, tech, "12345", sippOffer(6100, "0 101"))
				if err != nil {
					t.Fatal(err)
				}
				ch = eng.nextInbound(t)
				if err := tech.Indicate(ch, engine.IndicateRinging); err != nil {
					t.Fatal(err)
				}
				peer.await(gotResponse(sip.INVITE, 180), "180 Ringing")
				if tc.answered {
					if err := tech.Answer(ch); err != nil {
						t.Fatal(err)
					}
					if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
						t.Fatal(err)
					}
					if err := dlg.Ack(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := tech.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// Everything below was on the wire by the time Close returned.
			m := peer.await(tc.want, tc.what)
			if got := header(m, "Reason"); got != sipcause.ReasonHeader(16) {
				t.Fatalf("%s Reason = %q, want %q", tc.what, got, sipcause.ReasonHeader(16))
			}
			switch {
			case tc.answered:
				peer.await(sentResponse(sip.BYE, 200), "the peer's 200 to the BYE")
			case tc.outbound:
				peer.await(sentResponse(sip.INVITE, 487), "487 to the cancelled INVITE")
			default:
				if got := header(m, "Retry-After"); got == "" {
					t.Fatal("503 without Retry-After")
				}
			}
			ch.expect(t, "hangup:16")
			if n := tech.ActiveDialogs(); n != 0 {
				t.Fatalf("%d dialogs left after Close", n)
			}
			if err := tech.Close(); err != nil { // idempotent
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

// A switch that is shutting down refuses a new call with 503 and the
// Retry-After it asks for.
func TestInboundRefusedWhileDraining(t *testing.T) {
	eng := newFakeEngine()
	eng.reject = &engine.RejectError{Cause: sipcause.SwitchCongestion, Reason: "draining", RetryAfter: 90 * time.Second}
	tech := startTech(t, testConfig(), eng, nil)
	citizen := newPeer(t, "citizen")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := citizen.invite(ctx, tech, "12345", sippOffer(6100, "0 101")); err != nil {
		t.Fatal(err)
	}
	res := citizen.await(gotResponse(sip.INVITE, 503), "503 to the INVITE")
	if got := header(res, "Retry-After"); got != "90" {
		t.Fatalf("Retry-After = %q, want 90", got)
	}
	if got := header(res, "Reason"); got != "Q.850;cause=42" {
		t.Fatalf("Reason = %q", got)
	}
}
