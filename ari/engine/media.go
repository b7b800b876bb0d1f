package engine

import (
	"context"
	"fmt"
	"time"

	"linkctl/sip/media"
)

// HearingKind is what a channel's party hears.
type HearingKind int

const (
	HearSilence HearingKind = iota
	HearBridge
	HearPlayback
	HearMOH
	HearRingback
)

func (k HearingKind) String() string {
	switch k {
	case HearSilence:
		return "silence"
	case HearBridge:
		return "bridge"
	case HearPlayback:
		return "playback"
	case HearMOH:
		return "moh"
	case HearRingback:
		return "ringback"
	}
	return fmt.Sprintf("HearingKind(%d)", int(k))
}

// Hearing is what a channel hears now: bridge peers, a playback, MOH, ringback or silence.
type Hearing struct {
	Kind  HearingKind
	Peers []string // channel ids, for HearBridge
	URI   string   // media URI, for HearPlayback
}

func (h Hearing) equal(o Hearing) bool {
	if h.Kind != o.Kind || h.URI != o.URI || len(h.Peers) != len(o.Peers) {
		return false
	}
	for i := range h.Peers {
		if h.Peers[i] != o.Peers[i] {
			return false
		}
	}
	return true
}

func (h Hearing) String() string {
	switch h.Kind {
	case HearBridge:
		return fmt.Sprintf("bridge%v", h.Peers)
	case HearPlayback:
		return "playback " + h.URI
	}
	return h.Kind.String()
}

// HearingChange is one entry of a channel's hearing log.
type HearingChange struct {
	At time.Time
	Hearing
}

// genSource is the generated audio a channel hears instead of its bridge.
type genSource struct {
	kind HearingKind
	src  media.Source
	pb   *Playback
}

// refreshGenLocked picks the channel's generated audio: playback over MOH over ringback.
func (e *Engine) refreshGenLocked(ch *Channel) {
	var g genSource
	switch {
	case ch.gone:
	case ch.playing != nil:
		g = genSource{kind: HearPlayback, pb: ch.playing, src: ch.playing.src}
	case ch.moh:
		g = genSource{kind: HearMOH}
	case ch.ringback:
		g = genSource{kind: HearRingback}
	}
	if g.kind == ch.gen.kind && g.pb == ch.gen.pb && ch.gen.src != nil {
		g.src = ch.gen.src // keep playing, don't restart
	} else if g.src == nil {
		switch g.kind {
		case HearMOH:
			g.src = e.mohSource()
		case HearRingback:
			g.src, _ = media.Tone("ring", e.opts.ToneZone)
		}
	}
	ch.gen = g
	if g.src != nil && (ch.media != nil || (g.pb != nil && g.pb.finite)) {
		e.generating[ch] = struct{}{}
	} else {
		delete(e.generating, ch)
	}
	e.updateHearingLocked(ch)
}

// mohSource is the default MOH class: sounds/moh.wav looped if present, else the
// generated melody of sip/media.
func (e *Engine) mohSource() media.Source {
	if clip, err := e.clipLocked("moh"); err == nil {
		return clip.Loop()
	}
	return media.MOH()
}

func (e *Engine) hearingOf(ch *Channel) Hearing {
	switch {
	case ch.gone:
		return Hearing{Kind: HearSilence}
	case ch.gen.kind == HearPlayback:
		return Hearing{Kind: HearPlayback, URI: ch.gen.pb.uri}
	case ch.gen.kind != HearSilence:
		return Hearing{Kind: ch.gen.kind}
	case ch.bridge != nil && len(ch.bridge.members) > 1:
		h := Hearing{Kind: HearBridge}
		for _, m := range ch.bridge.members {
			if m != ch {
				h.Peers = append(h.Peers, m.id)
			}
		}
		return h
	}
	return Hearing{Kind: HearSilence}
}

func (e *Engine) updateHearingLocked(ch *Channel) { e.setHearingLocked(ch, e.hearingOf(ch)) }

func (e *Engine) setHearingLocked(ch *Channel, h Hearing) {
	if ch.hear.equal(h) && len(ch.hearLog) > 0 {
		return
	}
	ch.hear = h
	ch.hearLog = append(ch.hearLog, HearingChange{At: e.now(), Hearing: h})
}

// Hearing returns what the channel hears now and the log of changes since it
// was created (for tests and audits; channels are kept for their log after hangup
// only if Retain was set). ok is false for an unknown channel.
func (e *Engine) Hearing(channelID string) (now Hearing, log []HearingChange, ok bool) {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[channelID]
	if ch == nil {
		ch = e.retired[channelID]
	}
	if ch == nil {
		return Hearing{}, nil, false
	}
	return ch.hear, append([]HearingChange(nil), ch.hearLog...), true
}

// setMedia attaches or detaches a channel's media port.
func (e *Engine) setMedia(ch *Channel, p MediaPort) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone {
		return
	}
	if b := ch.bridge; b != nil {
		if ch.media != nil {
			b.mediaMembers--
		}
		if p != nil {
			b.mediaMembers++
		}
	}
	ch.media = p
	e.refreshGenLocked(ch)
}

// Run drives the 20 ms media clock until ctx ends. It touches only bridges with
// at least one media port and channels generating audio, so channels without a
// MediaPort cost nothing.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(media.FrameDuration)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Tick()
		}
	}
}

// tickPlan is what one media tick must do, captured under the engine lock and
// carried out without it, so technologies' ReadFrame/WriteFrame (RTP I/O) never
// hold up REST requests and events.
type tickPlan struct {
	members []planMember // all bridges' members, bridge after bridge
	sizes   []int        // member count of each planned bridge
	gens    []planGen
	done    []*Playback
}

type planMember struct {
	media     MediaPort
	generated bool // hears generated audio instead of the bridge
}

type planGen struct {
	src   media.Source
	media MediaPort
	pb    *Playback
}

// Tick advances the media clock by one 20 ms frame (Run calls it; tests may call
// it directly, but never concurrently with Run).
func (e *Engine) Tick() {
	p := &e.plan
	p.members, p.sizes, p.gens, p.done = p.members[:0], p.sizes[:0], p.gens[:0], p.done[:0]
	e.mu.Lock()
	for _, b := range e.bridges {
		if b.mediaMembers == 0 || len(b.members) < 2 {
			continue
		}
		for _, m := range b.members {
			p.members = append(p.members, planMember{media: m.media, generated: m.gen.src != nil})
		}
		p.sizes = append(p.sizes, len(b.members))
	}
	for ch := range e.generating {
		p.gens = append(p.gens, planGen{src: ch.gen.src, media: ch.media, pb: ch.gen.pb})
	}
	e.unlock()

	off := 0
	for _, n := range p.sizes {
		e.grow(n)
		in, out, have := e.mixIn[:n], e.mixOut[:n], e.mixHave[:n]
		ms := p.members[off : off+n]
		off += n
		for i, m := range ms {
			have[i] = m.media != nil && m.media.ReadFrame(in[i])
		}
		if n == 2 {
			// Two parties: a straight relay, no mixing.
			relay(out[0], in[1], have[1])
			relay(out[1], in[0], have[0])
		} else {
			media.MixInto(out, in, have)
		}
		for i, m := range ms {
			if m.media != nil && !m.generated {
				m.media.WriteFrame(out[i])
			}
		}
	}
	for _, g := range p.gens {
		ok := g.src.Next(e.genBuf[:])
		if g.media != nil {
			g.media.WriteFrame(e.genBuf[:])
		}
		if !ok && g.pb != nil {
			p.done = append(p.done, g.pb)
		}
	}
	if len(p.done) == 0 {
		return
	}
	e.mu.Lock()
	for _, pb := range p.done {
		if pb.ch.playing == pb && !pb.ch.gone {
			e.finishPlaybackLocked(pb, PlaybackDone, true)
		}
	}
	e.unlock()
}

func (e *Engine) grow(n int) {
	for len(e.mixIn) < n {
		e.mixIn = append(e.mixIn, make([]int16, FrameSamples))
		e.mixOut = append(e.mixOut, make([]int16, FrameSamples))
		e.mixHave = append(e.mixHave, false)
	}
}

func relay(dst, src []int16, have bool) {
	if have {
		copy(dst, src)
		return
	}
	clear(dst)
}
