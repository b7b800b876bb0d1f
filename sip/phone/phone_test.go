package phone

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"linkctl/sip/media"
)

func newPhone(t *testing.T, user string, tone float64, mod func(*Options)) *Phone {
	t.Helper()
	o := Options{User: user, ToneHz: tone, Logger: zaptest.NewLogger(t)}
	if mod != nil {
		mod(&o)
	}
	p, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// answerNext answers the next incoming call on p and hands it over.
func answerNext(p *Phone) <-chan *Call {
	ch := make(chan *Call, 1)
	p.OnIncoming(func(in *Incoming) {
		_ = in.Ring()
		c, err := in.Answer()
		if err != nil {
			p.log.Error("answer failed in test", zap.Error(err))
			close(ch)
			return
		}
		ch <- c
	})
	return ch
}

func TestCallAnswerAudioBothWaysHangup(t *testing.T) {
	for _, codecs := range [][]media.Codec{{media.PCMU}, {media.PCMA}} {
		t.Run(codecs[0].Name, func(t *testing.T) {
			alice := newPhone(t, "alice", 700, func(o *Options) { o.Codecs = codecs })
			bob := newPhone(t, "bob", 1100, nil)
			answered := answerNext(bob)
			ctx := ctxT(t, 10*time.Second)

			ac, err := alice.Call(ctx, bob.URI(), Header{Name: "X-Linkage-Ticket", Value: "GD-2026-000123"})
			if err != nil {
				t.Fatal(err)
			}
			bc := <-answered
			if bc == nil {
				t.Fatal("bob failed to answer")
			}
			if got := bc.Header("X-Linkage-Ticket"); got != "GD-2026-000123" {
				t.Errorf("bob saw X-Linkage-Ticket %q", got)
			}
			if ac.Codec().Name != codecs[0].Name || bc.Codec().Name != codecs[0].Name {
				t.Errorf("codecs %v / %v, want %s", ac.Codec(), bc.Codec(), codecs[0].Name)
			}
			if err := ac.WaitHear(ctx, 1100); err != nil {
				t.Fatalf("alice never heard bob: %v (%s)", err, ac.Heard())
			}
			if err := bc.WaitHear(ctx, 700); err != nil {
				t.Fatalf("bob never heard alice: %v (%s)", err, bc.Heard())
			}
			time.Sleep(300 * time.Millisecond)
			if ac.Heard().Heard(700) {
				t.Errorf("alice heard her own tone: %s", ac.Heard())
			}
			if bc.Heard().Heard(1100) {
				t.Errorf("bob heard his own tone: %s", bc.Heard())
			}
			if err := ac.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-bc.Done():
			case <-ctx.Done():
				t.Fatal("bob's call did not end after alice's BYE")
			}
			if bc.EndReason() != EndRemoteHangup || ac.EndReason() != EndLocalHangup {
				t.Errorf("end reasons: alice %q, bob %q", ac.EndReason(), bc.EndReason())
			}
			if ac.State() != StateEnded || len(alice.Calls()) != 0 || len(bob.Calls()) != 0 {
				t.Errorf("calls left: alice %d, bob %d", len(alice.Calls()), len(bob.Calls()))
			}
		})
	}
}

func TestDTMFBothWays(t *testing.T) {
	for _, mode := range []DTMFMode{DTMFRFC4733, DTMFInfo} {
		t.Run(mode.String(), func(t *testing.T) {
			alice := newPhone(t, "alice", 700, func(o *Options) { o.DTMFMode = mode })
			bob := newPhone(t, "bob", 0, func(o *Options) { o.DTMFMode = mode; o.AutoAnswer = true })
			ctx := ctxT(t, 10*time.Second)
			ac, err := alice.Call(ctx, bob.URI())
			if err != nil {
				t.Fatal(err)
			}
			bc, err := bob.WaitCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ac.SendDTMF("*1"); err != nil {
				t.Fatal(err)
			}
			if err := bc.SendDTMF("#9"); err != nil {
				t.Fatal(err)
			}
			if err := bc.WaitDigits(ctx, "*1"); err != nil {
				t.Fatalf("bob got %q: %v", bc.Digits(), err)
			}
			if err := ac.WaitDigits(ctx, "#9"); err != nil {
				t.Fatalf("alice got %q: %v", ac.Digits(), err)
			}
			time.Sleep(100 * time.Millisecond) // duplicates (3 end packets) would arrive now
			if bc.Digits() != "*1" || ac.Digits() != "#9" {
				t.Errorf("digits: bob %q, alice %q", bc.Digits(), ac.Digits())
			}
		})
	}
}

func TestRejectBusy(t *testing.T) {
	alice := newPhone(t, "alice", 700, nil)
	bob := newPhone(t, "bob", 1100, nil)
	bob.OnIncoming(func(in *Incoming) { _ = in.Reject(486) })
	_, err := alice.Call(ctxT(t, 5*time.Second), bob.URI())
	var ce *CallError
	if !errors.As(err, &ce) || ce.Status != 486 {
		t.Fatalf("err = %v, want 486 CallError", err)
	}
	if len(alice.Calls()) != 0 {
		t.Error("failed call left behind")
	}
}

func TestNoHandlerRefuses480(t *testing.T) {
	alice := newPhone(t, "alice", 700, nil)
	bob := newPhone(t, "bob", 0, nil)
	_, err := alice.Call(ctxT(t, 5*time.Second), bob.URI())
	var ce *CallError
	if !errors.As(err, &ce) || ce.Status != 480 {
		t.Fatalf("err = %v, want 480", err)
	}
}

func TestCancelWhileRinging(t *testing.T) {
	alice := newPhone(t, "alice", 700, nil)
	bob := newPhone(t, "bob", 0, nil)
	cancelled := make(chan struct{})
	bob.OnIncoming(func(in *Incoming) {
		_ = in.Ring()
		<-in.Cancelled()
		close(cancelled)
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	if _, err := alice.Call(ctx, bob.URI()); err == nil {
		t.Fatal("cancelled call succeeded")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("bob never saw the CANCEL")
	}
}

func TestHoldStopsAudioAndUnholdResumes(t *testing.T) {
	alice := newPhone(t, "alice", 700, nil)
	bob := newPhone(t, "bob", 1100, func(o *Options) { o.AutoAnswer = true })
	ctx := ctxT(t, 15*time.Second)
	ac, err := alice.Call(ctx, bob.URI())
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bob.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.WaitHear(ctx, 700); err != nil {
		t.Fatal(err)
	}
	if err := ac.Hold(); err != nil {
		t.Fatal(err)
	}
	if ac.State() != StateHeld || !bc.RemoteHold() {
		t.Errorf("after hold: alice %s, bob remote hold %v", ac.State(), bc.RemoteHold())
	}
	if err := bc.WaitUntil(ctx, func(c *Call) bool { return c.HearingNow().Silent }); err != nil {
		t.Fatalf("bob still hears alice on hold: %s", bc.Heard())
	}
	if err := ac.Unhold(); err != nil {
		t.Fatal(err)
	}
	if err := bc.WaitHear(ctx, 700); err != nil {
		t.Fatalf("bob does not hear alice after unhold: %s", bc.Heard())
	}
	if ac.State() != StateActive || bc.RemoteHold() {
		t.Errorf("after unhold: alice %s, bob remote hold %v", ac.State(), bc.RemoteHold())
	}
	// the answering side holds too (its re-INVITE goes the other way in the dialog)
	if err := bc.Hold(); err != nil {
		t.Fatal(err)
	}
	if !ac.RemoteHold() {
		t.Error("alice does not see bob's hold")
	}
	if err := ac.WaitUntil(ctx, func(c *Call) bool { return c.HearingNow().Silent }); err != nil {
		t.Fatalf("alice still hears bob on hold: %s", ac.Heard())
	}
	if err := bc.Unhold(); err != nil {
		t.Fatal(err)
	}
	if err := ac.WaitHear(ctx, 1100); err != nil {
		t.Fatalf("alice does not hear bob after unhold: %s", ac.Heard())
	}
	// hangup from the answering side this time
	if err := bc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ac.Done():
	case <-ctx.Done():
		t.Fatal("alice's call did not end")
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var tl Timeline
	for i := range 30 {
		switch {
		case i < 10:
			tl = tl.add(at(i*100), at(i*100+100), []float64{700}, false)
		case i < 22:
			tl = tl.add(at(i*100), at(i*100+100), nil, true)
		default:
			tl = tl.add(at(i*100), at(i*100+100), []float64{450, 900}, false)
		}
	}
	if len(tl) != 3 {
		t.Fatalf("segments %d, want 3: %s", len(tl), tl)
	}
	if got := tl.LongestSilence(); got != 1200*time.Millisecond {
		t.Errorf("longest silence %v, want 1.2s", got)
	}
	if got := tl.Duration(700); got != time.Second {
		t.Errorf("700 Hz for %v, want 1s", got)
	}
	late := tl.Since(at(2500))
	if late.Heard(700) || !late.Heard(900) || late.Duration(900) != 500*time.Millisecond {
		t.Errorf("since 2.5s: %s", late)
	}
	if got := tl.Between(at(500), at(1500)).LongestSilence(); got != 500*time.Millisecond {
		t.Errorf("clipped silence %v, want 0.5s", got)
	}
	if !slices.Equal(tl.Freqs(), []float64{450, 700, 900}) {
		t.Errorf("freqs %v", tl.Freqs())
	}
}
