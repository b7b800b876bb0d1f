package sipdemo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"linkctl/callflow/scenario"
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
