package engine

import (
	"fmt"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"linkctl/sip/media"
	"linkctl/sip/media/sounds"
)

// PlaybackState is an ARI playback state.
type PlaybackState int

const (
	PlaybackQueued PlaybackState = iota
	PlaybackPlaying
	PlaybackDone
	PlaybackFailed
)

func (s PlaybackState) String() string {
	switch s {
	case PlaybackQueued:
		return "queued"
	case PlaybackPlaying:
		return "playing"
	case PlaybackDone:
		return "done"
	case PlaybackFailed:
		return "failed"
	}
	return fmt.Sprintf("PlaybackState(%d)", int(s))
}

// Playback is one media playback on a channel. Guarded by Engine.mu.
type Playback struct {
	id, uri string
	ch      *Channel
	state   PlaybackState
	src     media.Source
	finite  bool
	stuck   bool // unknown scheme: Started, never Finished, not findable (t12)
}

func (p *Playback) snapshot() PlaybackJSON {
	return PlaybackJSON{ID: p.id, MediaURI: p.uri, TargetURI: "channel:" + p.ch.id, Language: "en", State: p.state.String()}
}

type clipEntry struct {
	clip *media.Clip
	err  error
}

// clipLocked loads (once) sounds/NAME.wav.
func (e *Engine) clipLocked(name string) (*media.Clip, error) {
	if ce, ok := e.clips[name]; ok {
		return ce.clip, ce.err
	}
	var ce clipEntry
	switch {
	case name == "" || strings.Contains(name, "..") || strings.ContainsAny(name, `/\`):
		ce.err = fmt.Errorf("sound %q: no such sound", name)
	case e.opts.SoundsDir != "":
		ce.clip, ce.err = media.LoadWAV(filepath.Join(e.opts.SoundsDir, name+".wav"))
		if ce.err != nil {
			// A configured folder may override the built-in announcements but need not carry them.
			if clip, err := sounds.Open(name); err == nil {
				ce.clip, ce.err = clip, nil
			}
		}
	default:
		// The zh-CN announcements shipped in the binary (sip/media/sounds).
		ce.clip, ce.err = sounds.Open(name)
	}
	e.clips[name] = &ce
	return ce.clip, ce.err
}

// sourceFor resolves a media URI; stuck reports a scheme Asterisk accepts but never plays.
func (e *Engine) sourceFor(uri string) (src media.Source, finite, stuck bool, err error) {
	scheme, rest, _ := strings.Cut(uri, ":")
	switch scheme {
	case "tone":
		name, zone, perr := media.ParseToneURI(uri)
		if perr != nil {
			return nil, false, false, perr
		}
		if zone == "" {
			zone = e.opts.ToneZone
		}
		src, err = media.Tone(name, zone)
		return src, false, false, err
	case "sound":
		clip, lerr := e.clipLocked(rest)
		if lerr != nil {
			return nil, true, false, lerr
		}
		return clip.Source(), true, false, nil
	}
	return nil, false, true, nil
}

// Play is POST /channels/{id}/play[/{playbackId}]: 201 with state queued, then
// PlaybackStarted; a missing sound fails at once (t10); playbacks on one channel queue.
func (e *Engine) Play(chID, playbackID, uri string) (PlaybackJSON, error) {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[chID]
	if ch == nil || ch.gone {
		return PlaybackJSON{}, errChannelNotFound
	}
	if uri == "" {
		return PlaybackJSON{}, errf(400, "Missing parameter media")
	}
	if playbackID == "" {
		playbackID = e.newUUID()
	}
	if e.playbacks[playbackID] != nil {
		return PlaybackJSON{}, errf(409, "Playback with given id already exists")
	}
	pb := &Playback{id: playbackID, uri: uri, ch: ch, state: PlaybackQueued}
	resp := pb.snapshot()
	var err error
	pb.src, pb.finite, pb.stuck, err = e.sourceFor(uri)
	if err != nil {
		ch.log.Info("playback media unavailable", zap.String("uri", uri), zap.Error(err))
	}
	if pb.stuck {
		pb.state = PlaybackPlaying
		e.emit(ch.app, "PlaybackStarted", ch.id, map[string]any{"playback": pb.snapshot()})
		return resp, nil
	}
	e.playbacks[pb.id] = pb
	if ch.playing != nil {
		ch.playQueue = append(ch.playQueue, pb)
		return resp, nil
	}
	e.startPlaybackLocked(pb)
	return resp, nil
}

func (e *Engine) startPlaybackLocked(pb *Playback) {
	ch := pb.ch
	pb.state = PlaybackPlaying
	e.emit(ch.app, "PlaybackStarted", ch.id, map[string]any{"playback": pb.snapshot()})
	if pb.src == nil {
		e.finishPlaybackLocked(pb, PlaybackFailed, true)
		return
	}
	ch.playing = pb
	e.refreshGenLocked(ch)
}

func (e *Engine) finishPlaybackLocked(pb *Playback, st PlaybackState, next bool) {
	ch := pb.ch
	pb.state = st
	delete(e.playbacks, pb.id)
	if ch.playing == pb {
		ch.playing = nil
	}
	e.emit(ch.app, "PlaybackFinished", ch.id, map[string]any{"playback": pb.snapshot()})
	if next && !ch.gone && ch.playing == nil && len(ch.playQueue) > 0 {
		n := ch.playQueue[0]
		ch.playQueue = ch.playQueue[1:]
		e.startPlaybackLocked(n)
		return
	}
	e.refreshGenLocked(ch)
}

// stopPlaybacksLocked ends the current playback (state st) and drops the queue, at hangup.
func (e *Engine) stopPlaybacksLocked(ch *Channel, _ string) {
	for _, q := range ch.playQueue {
		delete(e.playbacks, q.id)
	}
	ch.playQueue = nil
	if ch.playing != nil {
		e.finishPlaybackLocked(ch.playing, PlaybackFailed, false)
	}
}

// StopPlayback is DELETE /playbacks/{id}: PlaybackFinished done.
func (e *Engine) StopPlayback(id string) error {
	e.mu.Lock()
	defer e.unlock()
	pb := e.playbacks[id]
	if pb == nil {
		return errPlaybackNotFound
	}
	if pb.state == PlaybackQueued {
		ch := pb.ch
		for i, q := range ch.playQueue {
			if q == pb {
				ch.playQueue = append(ch.playQueue[:i:i], ch.playQueue[i+1:]...)
				break
			}
		}
		delete(e.playbacks, id)
		return nil
	}
	e.finishPlaybackLocked(pb, PlaybackDone, true)
	return nil
}

// PlaybackInfo is GET /playbacks/{id}.
func (e *Engine) PlaybackInfo(id string) (PlaybackJSON, error) {
	e.mu.Lock()
	defer e.unlock()
	pb := e.playbacks[id]
	if pb == nil {
		return PlaybackJSON{}, errPlaybackNotFound
	}
	return pb.snapshot(), nil
}
