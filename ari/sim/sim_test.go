package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"linkctl/ari/engine"
)

func TestParseBehavior(t *testing.T) {
	for in, want := range map[string]Behavior{"": Answer, "answer": Answer, "busy": Busy, "no_answer": NoAnswer, "unavailable": Unavailable} {
		got, err := ParseBehavior(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseBehavior("explode"); err == nil {
		t.Error("unknown behavior accepted")
	}
}

func sine(f float64, amp float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = amp * math.Sin(2*math.Pi*f*float64(i)/8000)
	}
	return out
}

func TestGoertzelShare(t *testing.T) {
	mix := func(parts ...[]float64) []int16 {
		out := make([]int16, 320)
		for i := range out {
			var v float64
			for _, p := range parts {
				v += p[i]
			}
			out[i] = int16(v)
		}
		return out
	}
	cases := []struct {
		name   string
		x      []int16
		freq   float64
		lo, hi float64
	}{
		{"pure tone", mix(sine(1000, 8000, 320)), 1000, 0.9, 1.1},
		{"other tone", mix(sine(1000, 8000, 320)), 400, 0, 0.05},
		{"two tones, first", mix(sine(1000, 8000, 320), sine(1700, 8000, 320)), 1000, 0.4, 0.6},
		{"two tones, absent", mix(sine(1000, 8000, 320), sine(1700, 8000, 320)), 400, 0, 0.05},
		{"silence", make([]int16, 320), 1000, 0, 0},
	}
	for _, tc := range cases {
		if got := goertzelShare(tc.x, tc.freq); got < tc.lo || got > tc.hi {
			t.Errorf("%s: share %.3f, want %.2f..%.2f", tc.name, got, tc.lo, tc.hi)
		}
	}
}

// TestScriptedBehaviours drives each behaviour through a real engine and checks the
// cause the switch ends the call with.
func TestScriptedBehaviours(t *testing.T) {
	old := TimerB
	TimerB = 100 * time.Millisecond
	defer func() { TimerB = old }()
	cases := []struct {
		b       Behavior
		timeout int
		cause   any
		state   CallState
	}{
		{Busy, 5, 17, CallEnded},
		{NoAnswer, 1, 19, CallEnded},
		{Unavailable, -1, 18, CallEnded},
		{Answer, 5, nil, CallUp},
	}
	for _, tc := range cases {
		t.Run(tc.b.String(), func(t *testing.T) {
			e := engine.New(engine.Options{}, nil)
			st := New(e, nil)
			e.RegisterTech(st)
			destroyed := make(chan any, 1)
			e.Observe(func(ev engine.Event) {
				if ev.Type == "ChannelDestroyed" {
					destroyed <- ev.Fields["cause"]
				}
			})
			st.Phone("x").SetScript(Script{Behavior: tc.b})
			ch, err := e.Originate(context.Background(), engine.OriginateRequest{Endpoint: "Sim/x", App: "linkctl", Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-destroyed:
				if c != tc.cause {
					t.Fatalf("destroyed with cause %v, want %v", c, tc.cause)
				}
			case <-time.After(1500 * time.Millisecond):
				if tc.cause != nil {
					t.Fatalf("not destroyed, want cause %v", tc.cause)
				}
			}
			call := st.FindCall(ch.ID)
			if call == nil {
				t.Fatal("no sim call")
			}
			// The switch tells the technology right after the event (outside its lock).
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := call.Wait(ctx, tc.state); err != nil {
				t.Fatalf("phone state %s, want %s: %v", call.State(), tc.state, err)
			}
		})
	}
}
