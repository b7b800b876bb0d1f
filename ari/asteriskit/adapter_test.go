package asteriskit

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/client"
	"linkctl/callflow"
)

// adapterEnv runs linkctl's own ARI adapter (the one the controller uses)
// against the Asterisk under test.
type adapterEnv struct {
	t   *testing.T
	pbx *client.Client
	ctx context.Context
}

func startAdapter(t *testing.T, tg target) *adapterEnv {
	t.Helper()
	pbx, err := client.New(client.Options{URL: tg.base, WebsocketURL: tg.ws, Username: tg.user, Password: tg.pass,
		Application: tg.app, RequestTimeout: 5 * time.Second, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	ran := make(chan struct{})
	go func() { defer close(ran); _ = pbx.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran }) // Run logs to t: it must not outlive the test
	e := &adapterEnv{t: t, pbx: pbx, ctx: ctx}
	if _, ok := e.next(10*time.Second, func(ev callflow.Event) bool { _, ok := ev.(callflow.Connected); return ok }).(callflow.Connected); !ok {
		t.Fatal("adapter did not connect")
	}
	return e
}

func (e *adapterEnv) next(d time.Duration, pred func(callflow.Event) bool) callflow.Event {
	e.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-e.pbx.Events():
			if !ok {
				e.t.Fatal("adapter event stream closed")
			}
			if pred(ev) {
				return ev
			}
		case <-timer.C:
			e.t.Fatalf("no matching adapter event within %v", d)
			return nil
		}
	}
}

func about(id string) func(callflow.Event) bool {
	return func(ev callflow.Event) bool { return ev.ChannelIDOf() == id }
}

// The controller's adapter against real Asterisk: originate with a chosen id
// and variables, bridge, list, hang up, and the error kinds it maps.
func TestControllerAdapterOnAsterisk(t *testing.T) {
	tg := targetFromEnv(t)
	e := startAdapter(t, tg)
	ctx := e.ctx
	id, bid := newID(t, "ad"), newID(t, "adbr")
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.pbx.Hangup(c, id, "")
		_ = e.pbx.DestroyBridge(c, bid)
	})
	req := callflow.OriginateRequest{ChannelID: id, Endpoint: tg.answer, AppArgs: []string{"outbound", "12345", "lkit-call"},
		Timeout: 15 * time.Second, Variables: map[string]string{"LINKCTL_CALL_ID": "lkit-call"}}
	if err := e.pbx.Originate(ctx, req); err != nil {
		t.Fatalf("originate: %v", err)
	}
	ss, _ := e.next(15*time.Second, func(ev callflow.Event) bool { s, ok := ev.(callflow.StasisStart); return ok && s.ChannelID == id }).(callflow.StasisStart)
	if !reflect.DeepEqual(ss.Args, req.AppArgs) {
		t.Errorf("StasisStart args %v, want %v", ss.Args, req.AppArgs)
	}
	if v, err := e.pbx.GetVar(ctx, id, "LINKCTL_CALL_ID"); err != nil || v != "lkit-call" {
		t.Errorf("variable set on originate reads back %q, %v", v, err)
	}
	if _, err := e.pbx.GetVar(ctx, id, "LKIT_NO_SUCH_VAR"); !errors.Is(err, callflow.ErrNoSuchVariable) {
		t.Errorf("unknown variable: %v, want ErrNoSuchVariable", err)
	}
	if err := e.pbx.Originate(ctx, req); !errors.Is(err, callflow.ErrConflict) {
		t.Errorf("originate with a live id: %v, want ErrConflict", err)
	}
	bad := req
	bad.ChannelID, bad.Endpoint = newID(t, "ad"), "PJSIP/lkit-no-such-endpoint"
	if err := e.pbx.Originate(ctx, bad); !errors.Is(err, callflow.ErrAllocationFailed) {
		t.Errorf("originate to an unknown endpoint: %v, want ErrAllocationFailed", err)
	}
	if err := e.pbx.CreateBridge(ctx, bid); err != nil {
		t.Fatalf("create bridge: %v", err)
	}
	if err := e.pbx.AddToBridge(ctx, bid, id); err != nil {
		t.Fatalf("add to bridge: %v", err)
	}
	eb, _ := e.next(10*time.Second, func(ev callflow.Event) bool { b, ok := ev.(callflow.EnteredBridge); return ok && b.ChannelID == id }).(callflow.EnteredBridge)
	if eb.BridgeID != bid {
		t.Errorf("entered bridge %q, want %q", eb.BridgeID, bid)
	}
	bridges, err := e.pbx.Bridges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, b := range bridges {
		if b.ID == bid && reflect.DeepEqual(b.Channels, []string{id}) {
			listed = true
		}
	}
	if !listed {
		t.Errorf("bridge %s with %s not listed: %+v", bid, id, bridges)
	}
	if err := e.pbx.Hangup(ctx, id, ""); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	var seq []string
	for {
		ev := e.next(10*time.Second, about(id))
		switch v := ev.(type) {
		case callflow.HangupRequest:
			if v.Cause != 32 || !v.Soft {
				t.Errorf("hangup request %+v, want cause 32 soft", v)
			}
			seq = append(seq, "HangupRequest")
		case callflow.LeftBridge:
			seq = append(seq, "LeftBridge")
		case callflow.StasisEnd:
			seq = append(seq, "StasisEnd")
		case callflow.ChannelDestroyed:
			seq = append(seq, "ChannelDestroyed")
		}
		if len(seq) > 0 && seq[len(seq)-1] == "ChannelDestroyed" {
			break
		}
	}
	if want := []string{"HangupRequest", "LeftBridge", "StasisEnd", "ChannelDestroyed"}; !reflect.DeepEqual(seq, want) {
		t.Errorf("adapter events after hangup %v, want %v", seq, want)
	}
	if err := e.pbx.Hangup(ctx, id, ""); !errors.Is(err, callflow.ErrChannelGone) {
		t.Errorf("second hangup: %v, want ErrChannelGone (404 race)", err)
	}
	if err := e.pbx.AddToBridge(ctx, bid, id); !errors.Is(err, callflow.ErrChannelGone) {
		t.Errorf("adding a hung-up channel: %v, want ErrChannelGone (400 Channel not found)", err)
	}
	if err := e.pbx.DestroyBridge(ctx, bid); err != nil {
		t.Errorf("destroy bridge: %v", err)
	}
	if err := e.pbx.DestroyBridge(ctx, bid); !errors.Is(err, callflow.ErrBridgeGone) {
		t.Errorf("destroy again: %v, want ErrBridgeGone", err)
	}
}
