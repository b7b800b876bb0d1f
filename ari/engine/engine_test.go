package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/sip/media"
)

type rig struct {
	t   *testing.T
	e   *engine.Engine
	sim *sim.Tech
	mu  sync.Mutex
	evs []engine.Event
}

func newRig(t *testing.T, opts engine.Options) *rig {
	t.Helper()
	opts.Dialplan = []engine.DialplanEntry{{Exten: "12345", App: "linkctl", AppArgs: []string{"inbound", "12345"}}}
	opts.RetainHearing = true
	r := &rig{t: t, e: engine.New(opts, nil)}
	r.sim = sim.New(r.e, nil)
	r.e.RegisterTech(r.sim)
	r.e.Observe(func(ev engine.Event) {
		r.mu.Lock()
		r.evs = append(r.evs, ev)
		r.mu.Unlock()
	})
	sub := r.e.Subscribe("linkctl")
	t.Cleanup(sub.Close)
	return r
}

func (r *rig) events(typ string) []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []engine.Event
	for _, ev := range r.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (r *rig) waitEvent(typ, ch string) engine.Event {
	r.t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		for _, ev := range r.events(typ) {
			if ch == "" || ev.ChannelID == ch {
				return ev
			}
		}
	}
	r.t.Fatalf("no %s for %q", typ, ch)
	return engine.Event{}
}

// caller places an answered inbound call from a talking Sim phone.
func (r *rig) caller(name string, hz float64, level int16) *sim.Call {
	r.t.Helper()
	p := r.sim.Phone(name).SetScript(sim.Script{ToneHz: hz, ToneLevel: level})
	c, err := p.Call(context.Background(), "12345")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.e.Answer(c.ChannelID()); err != nil {
		r.t.Fatal(err)
	}
	return c
}

// agent originates to a talking Sim phone and waits for it in Stasis.
func (r *rig) agent(name string, hz float64, level int16) string {
	r.t.Helper()
	r.sim.Phone(name).SetScript(sim.Script{Behavior: sim.Answer, ToneHz: hz, ToneLevel: level})
	ch, err := r.e.Originate(context.Background(), engine.OriginateRequest{Endpoint: "Sim/" + name, App: "linkctl", AppArgs: "outbound", Timeout: 5})
	if err != nil {
		r.t.Fatal(err)
	}
	r.waitEvent("StasisStart", ch.ID)
	return ch.ID
}

func (r *rig) ticks(n int) {
	for i := 0; i < n; i++ {
		r.e.Tick()
	}
}

func TestHangupCause(t *testing.T) {
	cases := []struct {
		reason, code string
		cause        int
		status       int
	}{
		{"", "", 16, 0},
		{"normal", "", 16, 0},
		{"busy", "", 17, 0},
		{"congestion", "", 34, 0},
		{"no_answer", "", 19, 0},
		{"timeout", "", 18, 0},
		{"rejected", "", 21, 0},
		{"unallocated", "", 1, 0},
		{"answered_elsewhere", "", 26, 0},
		{"", "21", 21, 0},
		{"", "3", 3, 0},
		{"bogus", "", 0, 400},
		{"busy", "17", 0, 400},
		{"", "x", 0, 400},
	}
	for _, tc := range cases {
		got, err := engine.HangupCause(tc.reason, tc.code)
		var ae *engine.Error
		switch {
		case tc.status != 0:
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Errorf("reason=%q code=%q: err %v, want status %d", tc.reason, tc.code, err, tc.status)
			}
		case err != nil || got != tc.cause:
			t.Errorf("reason=%q code=%q: cause %d (%v), want %d", tc.reason, tc.code, got, err, tc.cause)
		}
	}
}

func TestSIPStatusForCause(t *testing.T) {
	// t15-hangup-reasons-unanswered-inbound: the final response per cause.
	for cause, want := range map[int]int{16: 603, 17: 486, 34: 503, 19: 480, 21: 403, 1: 404, 3: 404} {
		if got := engine.SIPStatusForCause(cause); got != want {
			t.Errorf("cause %d: %d, want %d", cause, got, want)
		}
	}
}

func TestChannelStateString(t *testing.T) {
	for s, want := range map[engine.ChannelState]string{engine.StateDown: "Down", engine.StateRing: "Ring",
		engine.StateRinging: "Ringing", engine.StateUp: "Up"} {
		if s.String() != want {
			t.Errorf("%d: %s", s, s)
		}
	}
}

// TestThreePartyMix: in a 3-party bridge each party hears the other two and not itself;
// with two, the audio is relayed straight.
func TestThreePartyMix(t *testing.T) {
	r := newRig(t, engine.Options{})
	a := r.caller("citizen", 400, 0)
	b := r.agent("a12345-1001", 1000, 0)
	c := r.agent("a110-2001", 1700, 0)
	bc, cc := r.sim.FindCall(b), r.sim.FindCall(c)
	if _, err := r.e.CreateBridge("mix", "mixing", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.e.AddChannels("mix", []string{a.ChannelID(), b}); err != nil {
		t.Fatal(err)
	}
	r.ticks(3)
	if !a.Hears(1000) || a.Hears(400) || !bc.Hears(400) || bc.Hears(1000) {
		t.Fatalf("2 parties: a hears 1000 %v / 400 %v; b hears 400 %v / 1000 %v", a.Hears(1000), a.Hears(400), bc.Hears(400), bc.Hears(1000))
	}
	if err := r.e.AddChannels("mix", []string{c}); err != nil {
		t.Fatal(err)
	}
	r.ticks(3)
	parties := []struct {
		name  string
		call  *sim.Call
		own   float64
		other []float64
	}{
		{"citizen", a, 400, []float64{1000, 1700}},
		{"a12345-1001", bc, 1000, []float64{400, 1700}},
		{"a110-2001", cc, 1700, []float64{400, 1000}},
	}
	for _, p := range parties {
		for _, f := range p.other {
			if !p.call.Hears(f) {
				t.Errorf("%s does not hear %v Hz (level %.3f)", p.name, f, p.call.Level(f))
			}
		}
		if p.call.Hears(p.own) {
			t.Errorf("%s hears itself (%v Hz, level %.3f)", p.name, p.own, p.call.Level(p.own))
		}
	}
}

// TestMixClamps: loud parties are summed and clamped to 16 bits, never wrapped.
func TestMixClamps(t *testing.T) {
	r := newRig(t, engine.Options{})
	a := r.caller("citizen", 300, 30000)
	b := r.agent("a12345-1001", 300, 30000)
	c := r.agent("a110-2001", 300, 30000)
	if _, err := r.e.CreateBridge("loud", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.e.AddChannels("loud", []string{a.ChannelID(), b, c}); err != nil {
		t.Fatal(err)
	}
	r.ticks(2)
	heard := a.Heard()
	var hi, lo int16
	for _, v := range heard {
		hi, lo = max(hi, v), min(lo, v)
	}
	// Two in-phase 30000 sines sum to 60000 peaks: clamped to the int16 range.
	if hi != 32767 || lo != -32768 {
		t.Fatalf("mix peaks %d..%d, want clamped 32767..-32768", hi, lo)
	}
	for i := 1; i < len(heard); i++ {
		if d := int(heard[i]) - int(heard[i-1]); d > 20000 || d < -20000 {
			t.Fatalf("sample %d jumps %d -> %d: wrapped, not clamped", i, heard[i-1], heard[i])
		}
	}
}

// TestPlaybackOverridesBridge: a channel playback replaces the bridge audio while it plays.
func TestPlaybackOverridesBridge(t *testing.T) {
	r := newRig(t, engine.Options{})
	a := r.caller("citizen", 400, 0)
	b := r.agent("a12345-1001", 1000, 0)
	if _, err := r.e.CreateBridge("br", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.e.AddChannels("br", []string{a.ChannelID(), b}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Play(a.ChannelID(), "pb", "tone:busy;tonezone=cn"); err != nil {
		t.Fatal(err)
	}
	r.ticks(3)
	if a.Hears(1000) || !a.Hears(450) {
		t.Fatalf("during playback: hears agent %v, busy tone %v", a.Hears(1000), a.Hears(450))
	}
	if h, _, _ := r.e.Hearing(a.ChannelID()); h.Kind != engine.HearPlayback {
		t.Fatalf("hearing %v, want playback", h)
	}
	if err := r.e.StopPlayback("pb"); err != nil {
		t.Fatal(err)
	}
	r.ticks(3)
	if !a.Hears(1000) {
		t.Fatal("after playback the caller does not hear the agent")
	}
	if f := r.events("PlaybackFinished"); len(f) != 1 || f[0].Fields["playback"].(engine.PlaybackJSON).State != "done" {
		t.Fatalf("PlaybackFinished %+v", f)
	}
}

// TestSoundPlaysToTheEnd: sound:NAME from the sounds dir finishes (done) after its
// length in media ticks, even on a channel without media; a missing sound fails.
func TestSoundPlaysToTheEnd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "beep.wav"), media.EncodeWAV(make([]int16, 800)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, engine.Options{SoundsDir: dir})
	c, err := r.sim.Phone("citizen").Call(context.Background(), "12345")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Play(c.ChannelID(), "p1", "sound:beep"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Play(c.ChannelID(), "p2", "sound:nope"); err != nil {
		t.Fatal(err)
	}
	r.ticks(4)
	if n := len(r.events("PlaybackFinished")); n != 0 {
		t.Fatalf("finished after 80 ms of a 100 ms sound (%d)", n)
	}
	r.ticks(2)
	fin := r.events("PlaybackFinished")
	if len(fin) != 2 {
		t.Fatalf("PlaybackFinished events %d, want 2 (p1 done, queued p2 failed)", len(fin))
	}
	got := []string{fin[0].Fields["playback"].(engine.PlaybackJSON).State, fin[1].Fields["playback"].(engine.PlaybackJSON).State}
	if got[0] != "done" || got[1] != "failed" {
		t.Fatalf("states %v, want [done failed]", got)
	}
}

// silentGaps returns the silences after the first sound in a hearing log (until the end).
func silentGaps(log []engine.HearingChange) int {
	heard, gaps := false, 0
	for _, h := range log {
		switch {
		case h.Kind != engine.HearSilence:
			heard = true
		case heard:
			gaps++
		}
	}
	return gaps
}

// TestNeverSilent: a caller put on MOH while an agent is dialled, then bridged,
// hears something at every moment; stopping MOH before bridging leaves a gap the
// audit sees.
func TestNeverSilent(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mohFirst    bool
		wantSilence bool
	}{
		{"bridge then stop moh", false, false},
		{"stop moh then bridge", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, engine.Options{})
			a := r.caller("citizen", 0, 0)
			id := a.ChannelID()
			if err := r.e.MOH(id, "", true); err != nil {
				t.Fatal(err)
			}
			b := r.agent("a12345-1001", 0, 0)
			if _, err := r.e.CreateBridge("b", "", ""); err != nil {
				t.Fatal(err)
			}
			if tc.mohFirst {
				_ = r.e.MOH(id, "", false)
			}
			if err := r.e.AddChannels("b", []string{id, b}); err != nil {
				t.Fatal(err)
			}
			_ = r.e.MOH(id, "", false)
			now, log, ok := r.e.Hearing(id)
			if !ok || now.Kind != engine.HearBridge || len(now.Peers) != 1 || now.Peers[0] != b {
				t.Fatalf("hearing %v", now)
			}
			if got := silentGaps(log) > 0; got != tc.wantSilence {
				t.Fatalf("silence after first sound: %v, want %v (log %v)", got, tc.wantSilence, log)
			}
		})
	}
}

// TestSubscribeAll: subscribeAll=true also gets other applications' events and
// BridgeCreated; a plain subscription gets neither (as with Asterisk's subscribeAll=false).
func TestSubscribeAll(t *testing.T) {
	r := newRig(t, engine.Options{})
	all := r.e.SubscribeAll("monitor")
	defer all.Close()
	plain := r.e.Subscribe("other")
	defer plain.Close()
	if _, err := r.e.CreateBridge("watched", "", ""); err != nil {
		t.Fatal(err)
	}
	c := r.caller("citizen", 0, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var got []string
	for len(got) < 3 {
		ev, ok := all.Next(ctx)
		if !ok {
			break
		}
		if ev.App != "monitor" {
			t.Errorf("event for %s delivered as app %q", ev.Type, ev.App)
		}
		got = append(got, ev.Type)
	}
	if strings.Join(got, ",") != "BridgeCreated,StasisStart,ChannelStateChange" {
		t.Fatalf("subscribeAll got %v", got)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if ev, ok := plain.Next(short); ok {
		t.Fatalf("plain subscription of another app got %s", ev.Type)
	}
	_ = c
}

// TestBuiltinAnnouncementPlays: with no sounds dir, sound:transfer-110 is the
// zh-CN announcement shipped in the binary: it plays for its length, then is done.
func TestBuiltinAnnouncementPlays(t *testing.T) {
	r := newRig(t, engine.Options{})
	c, err := r.sim.Phone("citizen").Call(context.Background(), "12345")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Play(c.ChannelID(), "a1", "sound:transfer-110"); err != nil {
		t.Fatal(err)
	}
	r.ticks(50) // 1 s: the announcement is about 4 s long
	if n := len(r.events("PlaybackFinished")); n != 0 {
		t.Fatalf("announcement finished after 1 s (%d events)", n)
	}
	r.ticks(400)
	fin := r.events("PlaybackFinished")
	if len(fin) != 1 || fin[0].Fields["playback"].(engine.PlaybackJSON).State != "done" {
		t.Fatalf("PlaybackFinished = %v, want one with state done", fin)
	}
}
