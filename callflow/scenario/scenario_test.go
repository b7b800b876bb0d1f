package scenario

import (
	"bytes"
	"context"
	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/config"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestScenarios runs every demo scenario over real ARI against the embedded switch.
func TestScenarios(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t, nil)
	for _, sc := range All() {
		t.Run(sc.Name, func(t *testing.T) {
			res := Run(ctx, env, sc)
			var buf bytes.Buffer
			Print(&buf, res)
			t.Log("\n" + buf.String())
			if !res.Pass {
				t.Errorf("%s failed: %v", sc.Name, res.Failures)
			}
		})
	}
}

func TestRestartDuringTransfer(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t, nil)
	res := Run(ctx, env, RestartDuringTransfer())
	var buf bytes.Buffer
	Print(&buf, res)
	t.Log("\n" + buf.String())
	if !res.Pass {
		t.Errorf("failed: %v", res.Failures)
	}
}

func TestRunDemoPrintsOneLinePerScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	var buf bytes.Buffer
	ok, err := RunDemo(context.Background(), &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, sc := range All() {
		if !strings.Contains(out, sc.Name) {
			t.Errorf("no line for %s", sc.Name)
		}
	}
	if !ok || strings.Count(out, " PASS\n") < 2*len(All()) || strings.Contains(out, "FAIL") {
		t.Errorf("demo did not pass:\n%s", out)
	}
}

// TestInboundLinkageHeaders: a call arriving with X-Linkage headers from a
// configured linkage peer (as another linkctl or a trunk sends them) puts them
// on the record; absent ones are absent. The same call from an endpoint that is
// not a peer keeps none of them, but its restricting flag still holds.
func TestInboundLinkageHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	for _, tt := range []struct {
		name    string
		peers   []string
		trusted bool
	}{
		{"linkage peer", []string{"Sim/" + Citizen}, true}, // the citizen phone plays the other platform's trunk
		{"not a peer", []string{"Sim/to12345"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config()
			cfg.Controller.LinkagePeers = tt.peers
			rec := inboundWithHeaders(t, cfg)
			if !rec.Confidential || rec.InboundHeaders[callflow.HeaderFlags] != "涉密" {
				t.Errorf("restricting flag not honoured: %+v", rec)
			}
			if !tt.trusted {
				if rec.Category != "" || rec.Ticket12345 != "" || len(rec.InboundHeaders) != 1 {
					t.Errorf("metadata from an endpoint that is not a peer reached the record: %+v", rec)
				}
				return
			}
			if rec.InboundHeaders[callflow.HeaderCallID] != "lk-remote-7" || rec.Category != "社会治安类/犬类管理" || rec.Ticket12345 != "GD-2026-000456" {
				t.Errorf("record %+v", rec)
			}
			if _, ok := rec.InboundHeaders[callflow.HeaderTicket]; ok {
				t.Error("absent header on the record")
			}
		})
	}
}

// inboundWithHeaders places a citizen call to 110 carrying linkage headers and
// returns its record once talking.
func inboundWithHeaders(t *testing.T, cfg *config.Config) callflow.CallRecord {
	t.Helper()
	ctx := context.Background()
	env, err := Start(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	c, err := env.Switch.Sim.Phone(Citizen).Call(ctx, "110", sim.WithHeaders(
		engine.Header{Name: callflow.HeaderCallID, Value: "lk-remote-7"},
		engine.Header{Name: callflow.HeaderCategory, Value: "社会治安类/犬类管理"},
		engine.Header{Name: callflow.HeaderOrigin, Value: "12345"},
		engine.Header{Name: callflow.HeaderUUI, Value: callflow.EncodeUUI("GD-2026-000456")},
		engine.Header{Name: callflow.HeaderFlags, Value: "涉密"},
	))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Hangup() })
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range env.Controller.Calls() {
			if r.Legs[0].ChannelID == c.ChannelID() && r.State == callflow.StateTalking.String() {
				return r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the call never reached talking")
	return callflow.CallRecord{}
}
