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

// t01 on the whole controller: a citizen's call to 12345 arrives as Asterisk
// sent it, the controller handles it, the citizen hangs up (Asterisk's
// ChannelHangupRequest without a cause, then StasisEnd, no ChannelDestroyed),
// and the controller ends the call and keeps nothing alive. Requests the
// recording does not have (ringing agents, stamps) are answered 500, like an
// Asterisk whose agents are unreachable.
func TestControllerOnRecordedInboundCallerHangup(t *testing.T) {
	dir := tracetest.Traces(t)
	tr, err := trace.Load(dir, "t01-inbound-answer-caller-hangup")
	if err != nil {
		t.Fatal(err)
	}
	caller := tr.Channels()[0]
	log := zaptest.NewLogger(t)
	srv := trace.NewServer(tr, trace.Options{GateTimeout: 3 * time.Second, Logger: log})
	defer srv.Close()
	pbx, err := client.New(client.Options{URL: srv.URL(), WebsocketURL: srv.WebsocketURL(), Username: "linkctl",
		Password: "linkctl-secret", Application: "linkctl", RequestTimeout: 2 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	ctl, err := callflow.New(pbx, callflow.Options{Config: cfg.Controller, Matters: cfg.Matters, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	pbxDone, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(pbxDone); _ = pbx.Run(ctx) }()
	go func() { defer close(done); _ = ctl.Run(ctx) }()
	// However the test ends, neither Run outlives it (they log to t).
	defer func() { cancel(); <-pbxDone; <-done }()
	for !pbx.Connected() {
		if ctx.Err() != nil {
			t.Fatal("adapter never connected to the replay server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Start()
	select {
	case <-srv.Done():
	case <-ctx.Done():
		t.Fatalf("replay did not finish: pending %v, misses %v", srv.Pending(), srv.Misses())
	}
	var rec callflow.CallRecord
	for {
		found := false
		for _, r := range ctl.Calls() {
			for _, l := range r.Legs {
				if l.ChannelID == caller {
					rec, found = r, true
				}
			}
		}
		if found && rec.State == callflow.StateEnded.String() && ctl.LiveCalls() == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("call of %s not ended: found=%v record %+v live=%d", caller, found, rec, ctl.LiveCalls())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec.FirstPlatform != callflow.Platform12345 || rec.Ended == nil {
		t.Errorf("record: first platform %q ended %v, want 12345 and an end time", rec.FirstPlatform, rec.Ended)
	}
	answered := true
	for _, m := range srv.Misses() {
		if m.Kind == trace.MissGate && strings.HasSuffix(m.Path, "/answer") {
			answered = false
		}
	}
	t.Logf("call %s ended: cause %q outcome %q; caller answered as recorded: %v; requests the recording lacks: %d",
		rec.ID, rec.EndCause, rec.Outcome, answered, len(srv.Misses()))
	cancel()
	<-done
}
