package sipdemo

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"linkctl/callflow/scenario"
	"linkctl/sip/media"
)

// The SIP scenarios end to end: real SIP and RTP on loopback, audio checked by
// tone. One Env serves every scenario, as in the demo; each must leave the
// switch empty for the next.
func TestScenariosOverSIP(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end SIP and RTP scenarios")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := Start(ctx, nil, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for _, sc := range All() {
		t.Run(sc.Name, func(t *testing.T) {
			res := Run(ctx, env, sc)
			var out bytes.Buffer
			scenario.Print(&out, res)
			t.Log("\n" + out.String())
			if !res.Pass {
				t.Errorf("%s failed:\n  %s", sc.Name, strings.Join(res.Failures, "\n  "))
			}
			if len(res.Records) == 0 {
				t.Errorf("%s: no call record", sc.Name)
			}
		})
	}
}

// A scenario's failed check is reported, not swallowed: a citizen whose call
// nobody answers must FAIL, and the switch is left clean.
func TestRunReportsFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := Start(ctx, nil, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	res := Run(ctx, env, Scenario{"12345 agent never answers", func(s *Step) {
		s.env.Agent(Agent12345).Set(RingOnly)
		s.dial("12345", Agent12345)
	}})
	if res.Pass || len(res.Failures) == 0 {
		t.Fatalf("a scenario whose agent never answers passed: %+v", res)
	}
	if !strings.Contains(strings.Join(res.Failures, "\n"), "a12345-1001 answers") {
		t.Errorf("failure does not say what timed out: %v", res.Failures)
	}
}

// A feature code whose last digit ends the presser's own call (the switch
// hangs the phone up while it still sends the digit's end packets) is not a
// failure; a closed RTP session before the last digit, or on a call that did
// not end, still is.
func TestSendCodeForgivesOnlyTheCallItEnded(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := Start(ctx, nil, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	res := Run(ctx, env, Scenario{"dtmf on an ended call", func(s *Step) {
		c, id, first := s.dial("12345", Agent12345)
		if cut, err := sendCode(first, "55"); cut || err != nil { // not a feature code: the call goes on
			s.Errorf("sendCode on a live call: cut %v err %v", cut, err)
		}
		s.hangup(c, id, first) // the agent's call ends: its RTP session is closed
		for _, tc := range []struct {
			code    string
			wantErr bool
		}{
			{"4", false}, // the last digit met the closed session of an ended call
			{"#", false},
			{"*4", true}, // closed before the last digit: the code never reached the switch
			{"*1", true},
		} {
			cut, err := sendCode(first, tc.code)
			if (err != nil) != tc.wantErr || cut == tc.wantErr {
				s.Errorf("sendCode(%q) on an ended call: cut %v err %v, want error %v", tc.code, cut, err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, media.ErrSessionClosed) {
				s.Errorf("sendCode(%q): %v does not wrap media.ErrSessionClosed", tc.code, err)
			}
		}
	}})
	if !res.Pass {
		t.Fatalf("failures:\n  %s", strings.Join(res.Failures, "\n  "))
	}
}
