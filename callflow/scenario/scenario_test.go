package scenario

import (
	"bytes"
	"context"
	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/callflow"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestScenarios runs every demo scenario over real ARI against the embedded switch.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	ctx := context.Background()
	env, err := Start(ctx, nil, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
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
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	ctx := context.Background()
	env, err := Start(ctx, nil, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
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
// on the record; absent ones are absent.
func TestInboundLinkageHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	ctx := context.Background()
	cfg := Config()
	cfg.Controller.LinkagePeers = []string{"Sim/" + Citizen} // the citizen phone plays the other platform's trunk
	env, err := Start(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	c, err := env.Switch.Sim.Phone(Citizen).Call(ctx, "110", sim.WithHeaders(
		engine.Header{Name: callflow.HeaderCallID, Value: "lk-remote-7"},
		engine.Header{Name: callflow.HeaderCategory, Value: "社会治安类/犬类管理"},
		engine.Header{Name: callflow.HeaderOrigin, Value: "12345"},
		engine.Header{Name: callflow.HeaderUUI, Value: callflow.EncodeUUI("GD-2026-000456")},
	))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup()
	var rec callflow.CallRecord
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range env.Controller.Calls() {
			if r.Legs[0].ChannelID == c.ChannelID() && r.State == callflow.StateTalking.String() {
				rec = r
			}
		}
		if rec.ID != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec.InboundHeaders[callflow.HeaderCallID] != "lk-remote-7" || rec.Category != "社会治安类/犬类管理" || rec.Ticket12345 != "GD-2026-000456" {
		t.Errorf("record %+v", rec)
	}
	if _, ok := rec.InboundHeaders[callflow.HeaderTicket]; ok {
		t.Error("absent header on the record")
	}
}
