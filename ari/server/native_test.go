package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"

	"linkctl/ari/sim"
)

// TestNativeClient drives the switch with the unmodified ari/v5 native client,
// exactly as the controller connects: JSON bodies, its websocket, its decoder.
func TestNativeClient(t *testing.T) {
	h := newHarness(t, nil)
	h.sw.Sim.Phone("a110-2001").SetScript(sim.Script{Behavior: sim.Answer, AnswerAfter: 20 * time.Millisecond})
	cl, err := native.Connect(&native.Options{Application: "linkctl", URL: h.sw.URL, WebsocketURL: h.sw.WebsocketURL,
		Username: h.sw.Username, Password: h.sw.Password})
	if err != nil {
		t.Fatalf("native.Connect: %v", err)
	}
	// No cl.Close(): in ari/v5 v5.3.1 Close writes c.connected while the client's
	// listen goroutine writes it too (client.go:177 vs :363), a data race under
	// -race. The client is left to fail its reconnects once the switch stops.
	_ = cl
	sub := cl.Bus().Subscribe(nil, ari.Events.All)
	defer sub.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next := func(typ string) ari.Event {
		t.Helper()
		for {
			select {
			case ev := <-sub.Events():
				if ev.GetType() == typ {
					return ev
				}
			case <-ctx.Done():
				t.Fatalf("no %s event", typ)
			}
		}
	}
	// The client registers the application when its websocket is up.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := h.sw.Engine.Application("linkctl"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("application not registered")
		}
	}

	caller, err := h.sw.Sim.Phone("citizen").Call(ctx, "110", sim.WithHeaders())
	if err != nil {
		t.Fatal(err)
	}
	ss, ok := next("StasisStart").(*ari.StasisStart)
	if !ok {
		t.Fatal("StasisStart not decoded")
	}
	if ss.Channel.ID != caller.ChannelID() || len(ss.Args) != 2 || ss.Args[1] != "110" || ss.Channel.State != "Ring" {
		t.Fatalf("StasisStart = %+v", ss)
	}
	in := cl.Channel().Get(ari.NewKey(ari.ChannelKey, ss.Channel.ID))
	if err := in.Answer(); err != nil {
		t.Fatalf("answer: %v", err)
	}
	if err := caller.Wait(ctx, sim.CallUp); err != nil {
		t.Fatal(err)
	}

	// Originate with PJSIP_HEADER(add,...) variables in a JSON body.
	agent, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "Sim/a110-2001", App: "linkctl",
		AppArgs: "outbound,110," + ss.Channel.ID, CallerID: "linkctl <110>", Timeout: 10, ChannelID: "lk-agent-0001",
		Variables: map[string]string{"PJSIP_HEADER(add,X-Linkage-Ticket)": "GD-2026-000123"}})
	if err != nil {
		t.Fatalf("originate: %v", err)
	}
	if agent.ID() != "lk-agent-0001" {
		t.Fatalf("originated id %q", agent.ID())
	}
	st := next("StasisStart").(*ari.StasisStart)
	if st.Channel.ID != "lk-agent-0001" || st.Channel.State != "Up" {
		t.Fatalf("agent StasisStart = %+v", st.Channel)
	}
	ac := h.sw.Sim.FindCall("lk-agent-0001")
	if ac == nil || len(ac.Options.Headers) != 1 || ac.Options.Headers[0].Value != "GD-2026-000123" {
		t.Fatalf("agent dial options %+v", ac)
	}

	br, err := cl.Bridge().Create(ari.NewKey(ari.BridgeKey, "lk-bridge-1"), "mixing", "lk-bridge-1")
	if err != nil {
		t.Fatalf("bridge create: %v", err)
	}
	if err := br.AddChannel(ss.Channel.ID); err != nil {
		t.Fatalf("add caller: %v", err)
	}
	if err := br.AddChannel("lk-agent-0001"); err != nil {
		t.Fatalf("add agent: %v", err)
	}
	next("ChannelEnteredBridge")
	eb := next("ChannelEnteredBridge").(*ari.ChannelEnteredBridge)
	if len(eb.Bridge.ChannelIDs) != 2 {
		t.Fatalf("bridge after second enter: %+v", eb.Bridge)
	}
	data, err := br.Data()
	if err != nil || data.Technology != "native_rtp" {
		t.Fatalf("bridge data %+v %v", data, err)
	}

	if err := in.SetVariable("LINKCTL_TICKET", "GD-1"); err != nil {
		t.Fatal(err)
	}
	if v, err := in.GetVariable("LINKCTL_TICKET"); err != nil || v != "GD-1" {
		t.Fatalf("variable = %q, %v", v, err)
	}
	pb, err := in.Play("pb-1", "tone:ring;tonezone=cn")
	if err != nil {
		t.Fatalf("play: %v", err)
	}
	next("PlaybackStarted")
	if err := pb.Stop(); err != nil {
		t.Fatalf("stop playback: %v", err)
	}
	pf := next("PlaybackFinished").(*ari.PlaybackFinished)
	if pf.Playback.State != "done" {
		t.Fatalf("playback finished %+v", pf.Playback)
	}
	if err := in.SendDTMF("12", nil); err != nil {
		t.Fatal(err)
	}
	caller.SendDTMF("*")
	if d := next("ChannelDtmfReceived").(*ari.ChannelDtmfReceived); d.Digit != "*" {
		t.Fatalf("dtmf %+v", d)
	}
	if err := agent.Hangup(); err != nil {
		t.Fatal(err)
	}
	cd := next("ChannelDestroyed").(*ari.ChannelDestroyed)
	if cd.Channel.ID != "lk-agent-0001" || cd.Cause != 16 {
		t.Fatalf("destroyed %+v", cd)
	}
	if err := in.Hangup(); err != nil {
		t.Fatal(err)
	}
	next("StasisEnd")
	if err := caller.Wait(ctx, sim.CallEnded); err != nil {
		t.Fatal(err)
	}
	if caller.DTMF() != "12" {
		t.Fatalf("caller heard DTMF %q", caller.DTMF())
	}
	if err := br.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Data(); err == nil {
		t.Fatal("hung-up channel still found")
	}
}
