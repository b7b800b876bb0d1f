package engine

import (
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
