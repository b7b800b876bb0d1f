package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"linkctl/ari/engine"
	"linkctl/ari/sim"
)

func TestPhaseString(t *testing.T) {
	for p, want := range map[engine.Phase]string{engine.PhaseServing: "serving", engine.PhaseDraining: "draining",
		engine.PhaseEnding: "ending", engine.Phase(9): "Phase(9)"} {
		if got := p.String(); got != want {
			t.Errorf("%d: %q, want %q", int(p), got, want)
		}
	}
}

// TestDrain: a live call either ends on its own during the drain or is hung up
// with cause 16 when the drain timeout passes or the drain is told to end now;
// a new call during the drain is refused with 42 (SIP 503) and Retry-After.
func TestDrain(t *testing.T) {
	tests := []struct {
		name       string
		calls      int
		hangUpSelf bool          // the caller hangs up during the drain
		timeout    time.Duration // drain timeout
		endNow     bool          // ctx cancelled during the drain (second signal)
		wantBy     string
		wantHungUp int
	}{
		{"no calls", 0, false, time.Minute, false, "idle", 0},
		{"call ends on its own", 1, true, time.Minute, false, "idle", 0},
		{"timeout hangs up", 2, false, 50 * time.Millisecond, false, "timeout", 2},
		{"zero timeout ends at once", 1, false, 0, false, "end now", 1},
		{"second signal ends now", 1, false, time.Minute, true, "end now", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, engine.Options{})
			var calls []*sim.Call
			for i := 0; i < tc.calls; i++ {
				calls = append(calls, r.caller("citizen", 0, 0))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan engine.DrainReport, 1)
			go func() {
				done <- r.e.Drain(ctx, engine.DrainOptions{Timeout: tc.timeout, Grace: 2 * time.Second, RetryAfter: 42 * time.Second})
			}()
			// The drain refuses new inbound calls as soon as it starts.
			waitPhase(t, r.e, engine.PhaseDraining, engine.PhaseEnding)
			_, err := r.sim.Phone("late").Call(context.Background(), "12345")
			var rej *engine.RejectError
			if !errors.As(err, &rej) || rej.Cause != 42 || rej.RetryAfter != 42*time.Second {
				t.Fatalf("new call during drain: %v, want RejectError cause 42 retry 42s", err)
			}
			if engine.SIPStatusForCause(rej.Cause) != 503 {
				t.Fatalf("cause 42 -> %d, want 503", engine.SIPStatusForCause(rej.Cause))
			}
			if tc.hangUpSelf {
				calls[0].Hangup()
			}
			if tc.endNow {
				cancel()
			}
			var rep engine.DrainReport
			select {
			case rep = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("drain did not return")
			}
			if rep.EndedBy != tc.wantBy || rep.HungUp != tc.wantHungUp || rep.Left != 0 || rep.AtStart != tc.calls {
				t.Fatalf("report %+v, want ended_by %s hung_up %d at_start %d left 0", rep, tc.wantBy, tc.wantHungUp, tc.calls)
			}
			for i, c := range calls {
				if c.State() != sim.CallEnded {
					t.Fatalf("call %d state %s after drain", i, c.State())
				}
				if !tc.hangUpSelf && c.Cause() != 16 {
					t.Fatalf("call %d ended with cause %d, want 16", i, c.Cause())
				}
				// The application saw the hang-up as usual.
				r.waitEvent("StasisEnd", c.ChannelID())
			}
			if r.e.LiveChannels() != 0 || r.e.Phase() != engine.PhaseEnding {
				t.Fatalf("after drain: %d channels, phase %s", r.e.LiveChannels(), r.e.Phase())
			}
		})
	}
}

func TestWaitIdleHonoursContext(t *testing.T) {
	r := newRig(t, engine.Options{})
	c := r.caller("citizen", 0, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.e.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle with a live call: %v, want deadline exceeded", err)
	}
	c.Hangup()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if err := r.e.WaitIdle(ctx2); err != nil {
		t.Fatalf("WaitIdle after hangup: %v", err)
	}
}

func waitPhase(t *testing.T, e *engine.Engine, want ...engine.Phase) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p := e.Phase()
		for _, w := range want {
			if p == w {
				return
			}
		}
	}
	t.Fatalf("phase %s, want one of %v", e.Phase(), want)
}
