package engine_test

import (
	"context"
	"sync/atomic"
	"testing"

	"linkctl/ari/engine"
)

// privTech is a minimal technology that records what Answer finds on the channel.
type privTech struct{ answeredWith atomic.Value }

func (t *privTech) Name() string                     { return "Priv" }
func (t *privTech) Exists(string) bool               { return false }
func (t *privTech) Endpoints() []engine.EndpointInfo { return nil }
func (t *privTech) Dial(context.Context, engine.ChannelControl, string, engine.DialOptions) error {
	return nil
}
func (t *privTech) Answer(ch engine.ChannelControl) error {
	t.answeredWith.Store(ch.TechPrivate())
	return nil
}
func (t *privTech) Indicate(engine.ChannelControl, engine.Indication) error { return nil }
func (t *privTech) Hangup(engine.ChannelControl, int) error                 { return nil }
func (t *privTech) SendDTMF(engine.ChannelControl, string, int) error       { return nil }
func (t *privTech) TransferProgress(engine.ChannelControl, string) error    { return nil }

// privCall is a technology's per-call state that wants its channel attached.
type privCall struct {
	ctl atomic.Pointer[engine.ChannelControl]
}

func (p *privCall) AttachChannel(ctl engine.ChannelControl) { p.ctl.Store(&ctl) }

// TestInboundTechPrivateBeforeStasis: the engine attaches InboundCall.TechPrivate
// (and tells a ChannelAttacher its channel) before StasisStart goes out, so the
// application's first answer reaches a technology that already has its state.
func TestInboundTechPrivateBeforeStasis(t *testing.T) {
	r := newRig(t, engine.Options{})
	tech := &privTech{}
	r.e.RegisterTech(tech)
	priv := &privCall{}
	var attachedAtStasis atomic.Bool
	r.e.Observe(func(ev engine.Event) {
		if ev.Type == "StasisStart" {
			attachedAtStasis.Store(priv.ctl.Load() != nil)
		}
	})
	ctl, err := r.e.Inbound(engine.InboundCall{Tech: "Priv", Endpoint: "peer", Exten: "12345", TechPrivate: priv})
	if err != nil {
		t.Fatal(err)
	}
	r.waitEvent("StasisStart", ctl.ID())
	if !attachedAtStasis.Load() {
		t.Error("StasisStart went out before the technology's call was attached")
	}
	if got := priv.ctl.Load(); got == nil || (*got).ID() != ctl.ID() {
		t.Errorf("attached channel %v, want %s", got, ctl.ID())
	}
	if err := r.e.Answer(ctl.ID()); err != nil {
		t.Fatal(err)
	}
	if got, _ := tech.answeredWith.Load().(*privCall); got != priv {
		t.Errorf("Answer found TechPrivate %v, want the inbound call's", tech.answeredWith.Load())
	}
}
