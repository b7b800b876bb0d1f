package drive_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/client"
	"linkctl/ari/trace"
	"linkctl/ari/trace/tracetest"
	"linkctl/callflow"
	"linkctl/config"
)

// t13 on the whole controller: a citizen talks with a 12345 agent, the event
// websocket drops (Asterisk keeps both channels and the bridge, and replays
// nothing on reconnect). The controller must reconnect, list what is there,
// and keep the call exactly as it was: no hangup, no new bridge.
func TestControllerKeepsCallAcrossWebsocketDrop(t *testing.T) {
	dir := tracetest.Traces(t)
	tr, err := trace.Load(dir, "t13-ws-disconnect")
	if err != nil {
		t.Fatal(err)
	}
	caller := tr.Channels()[0]
	log := zaptest.NewLogger(t)
	srv := trace.NewServer(tr, trace.Options{GateTimeout: time.Minute, Logger: log})
	defer srv.Close()
	pbx, err := client.New(client.Options{URL: srv.URL(), WebsocketURL: srv.WebsocketURL(), Username: "linkctl",
		Password: "linkctl-secret", Application: "linkctl", RequestTimeout: 2 * time.Second, Logger: log,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	// The one agent the recording originated to.
	cfg.Controller.Groups["12345"] = config.GroupConfig{Agents: []string{"PJSIP/a12345-1001"}, Strategy: "ring-all",
		RingTimeout: config.Duration(20 * time.Second)}
	ctl, err := callflow.New(pbx, callflow.Options{Config: cfg.Controller, Matters: cfg.Matters, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	pbxDone, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(pbxDone); _ = pbx.Run(ctx) }()
	go func() { defer close(done); _ = ctl.Run(ctx) }()
	// However the test ends, neither Run outlives it (they log to t).
	defer func() { cancel(); <-pbxDone; <-done }()
	waitFor(ctx, t, "adapter connected", pbx.Connected)
	srv.Start()

	callOf := func() (callflow.CallRecord, bool) {
		for _, r := range ctl.Calls() {
			for _, l := range r.Legs {
				if l.ChannelID == caller {
					return r, true
				}
			}
		}
		return callflow.CallRecord{}, false
	}
	waitFor(ctx, t, "call talking before the drop", func() bool {
		r, ok := callOf()
		return ok && r.State == callflow.StateTalking.String()
	})
	// The replay drops the websocket where the recording closed it; the
	// adapter reconnects and the controller lists channels to reconcile.
	waitFor(ctx, t, "second websocket session", func() bool { return srv.Connections() >= 2 })
	waitFor(ctx, t, "reconcile listing after the reconnect", func() bool {
		n := 0
		for _, r := range srv.Requests() {
			if r.Method == "GET" && r.Path == "/ari/channels" && r.Line != 0 {
				n++
			}
		}
		return n >= 2 // controller recovery + the call's reconcile, both answered from the recording
	})
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		r, _ := callOf()
		if r.State != callflow.StateTalking.String() {
			t.Fatalf("after the reconnect the call went to %q (cause %q); Asterisk still had both legs bridged", r.State, r.EndCause)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range srv.Requests() {
		if r.Method == "DELETE" && !strings.HasSuffix(strings.SplitN(r.Path, "?", 2)[0], "/ring") &&
			!strings.HasSuffix(strings.SplitN(r.Path, "?", 2)[0], "/moh") {
			t.Errorf("controller hung up or destroyed something across the drop: %s %s", r.Method, r.Path)
		}
	}
	rec, _ := callOf()
	if len(rec.Legs) != 2 || ctl.LiveCalls() != 1 {
		t.Errorf("after the reconnect: %d legs, %d live calls; want the same call with caller and agent", len(rec.Legs), ctl.LiveCalls())
	}
	// The recording then hung the agent up from the app side; let those
	// events through: the controller ends the call as for any agent hangup.
	srv.Release()
	waitFor(ctx, t, "call ended after the agent's hangup", func() bool {
		r, _ := callOf()
		return r.State == callflow.StateEnded.String()
	})
	cancel()
	<-done
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
