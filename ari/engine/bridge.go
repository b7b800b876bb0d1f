package engine

import (
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Bridge is a mixing bridge. Guarded by Engine.mu.
type Bridge struct {
	id, name, typ string
	created       time.Time
	members       []*Channel
	technology    string // as reported; follows the member count one event late, like Asterisk (t11)
	apps          map[*App]struct{}
	mediaMembers  int
}

// bridgeTechnology is what Asterisk reports for a mixing bridge with n members:
// simple_bridge (0-1), native_rtp (2), softmix (3+).
func bridgeTechnology(n int) string {
	switch {
	case n >= 3:
		return "softmix"
	case n == 2:
		return "native_rtp"
	}
	return "simple_bridge"
}

func (b *Bridge) snapshot() BridgeJSON {
	j := BridgeJSON{ID: b.id, Technology: b.technology, BridgeType: "mixing", BridgeClass: "stasis", Creator: "Stasis",
		Name: b.name, Channels: make([]string, 0, len(b.members)), Creationtime: b.created.Format(TimeFormat), VideoMode: "talker"}
	for _, m := range b.members {
		j.Channels = append(j.Channels, m.id)
	}
	return j
}

var bridgeTypes = map[string]bool{"mixing": true, "holding": true, "dtmf_events": true, "proxy_media": true,
	"video_sfu": true, "video_single": true, "sdp_label": true}

// CreateBridge is POST /bridges and POST /bridges/{id}.
func (e *Engine) CreateBridge(id, typ, name string) (BridgeJSON, error) {
	if typ == "" {
		typ = "mixing"
	}
	for _, t := range strings.Split(typ, ",") {
		if !bridgeTypes[strings.TrimSpace(t)] {
			return BridgeJSON{}, errf(500, "Unable to create bridge. Possible duplicate bridge id '(null)'")
		}
	}
	e.mu.Lock()
	defer e.unlock()
	if id == "" {
		id = e.newUUID()
	}
	if e.bridges[id] != nil {
		return BridgeJSON{}, errf(409, "Bridge with id '"+id+"' already exists")
	}
	b := &Bridge{id: id, name: name, typ: typ, created: e.now(), technology: "simple_bridge", apps: map[*App]struct{}{}}
	e.bridges[id] = b
	e.emit(nil, "BridgeCreated", "", map[string]any{"bridge": b.snapshot()})
	e.log.Info("bridge created", zap.String("bridge_id", id))
	return b.snapshot(), nil
}

// Bridge is GET /bridges/{id}.
func (e *Engine) Bridge(id string) (BridgeJSON, error) {
	e.mu.Lock()
	defer e.unlock()
	b := e.bridges[id]
	if b == nil {
		return BridgeJSON{}, errBridgeNotFound
	}
	return b.snapshot(), nil
}

// Bridges is GET /bridges.
func (e *Engine) Bridges() []BridgeJSON {
	e.mu.Lock()
	defer e.unlock()
	out := make([]BridgeJSON, 0, len(e.bridges))
	for _, b := range e.bridges {
		out = append(out, b.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Creationtime+out[i].ID < out[j].Creationtime+out[j].ID })
	return out
}

// AddChannels is POST /bridges/{id}/addChannel. A channel already in a bridge
// (this one or another) leaves it first (t12).
func (e *Engine) AddChannels(bridgeID string, ids []string) error {
	e.mu.Lock()
	defer e.unlock()
	b := e.bridges[bridgeID]
	if b == nil {
		return errBridgeNotFound
	}
	if len(ids) == 0 {
		return errf(400, "Missing parameter channel")
	}
	chans := make([]*Channel, 0, len(ids))
	for _, id := range ids {
		ch := e.channels[id]
		if ch == nil || ch.gone {
			return errf(400, "Channel not found")
		}
		if !ch.inStasis {
			return errf(422, "Channel not in Stasis application")
		}
		chans = append(chans, ch)
	}
	for _, ch := range chans {
		if ch.bridge != nil {
			e.leaveBridgeLocked(ch, false)
		}
		e.enterBridgeLocked(b, ch)
	}
	return nil
}

// RemoveChannel is POST /bridges/{id}/removeChannel; the channel stays in Stasis (t11).
func (e *Engine) RemoveChannel(bridgeID, id string) error {
	e.mu.Lock()
	defer e.unlock()
	b := e.bridges[bridgeID]
	if b == nil {
		return errBridgeNotFound
	}
	if id == "" {
		return errf(400, "Missing parameter channel")
	}
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errf(400, "Channel not found")
	}
	if ch.bridge != b {
		return errf(422, "Channel not in this bridge")
	}
	e.leaveBridgeLocked(ch, false)
	return nil
}

// DeleteBridge is DELETE /bridges/{id}: members leave (and stay up), BridgeDestroyed.
func (e *Engine) DeleteBridge(id string) error {
	e.mu.Lock()
	defer e.unlock()
	b := e.bridges[id]
	if b == nil {
		return errBridgeNotFound
	}
	for len(b.members) > 0 {
		e.leaveBridgeLocked(b.members[0], false)
	}
	delete(e.bridges, id)
	snap := b.snapshot()
	for a := range b.apps {
		e.emit(a, "BridgeDestroyed", "", map[string]any{"bridge": snap})
		delete(a.bridges, b.id)
		e.reapApp(a)
	}
	e.log.Info("bridge destroyed", zap.String("bridge_id", id))
	return nil
}

func (e *Engine) enterBridgeLocked(b *Bridge, ch *Channel) {
	b.members = append(b.members, ch)
	ch.bridge = b
	if ch.media != nil {
		b.mediaMembers++
	}
	if ch.app != nil {
		b.apps[ch.app] = struct{}{}
		ch.app.bridges[b.id] = b
	}
	e.emit(ch.app, "ChannelEnteredBridge", ch.id, map[string]any{"bridge": b.snapshot(), "channel": ch.snapshot()})
	b.technology = bridgeTechnology(len(b.members))
	e.bridgePeersLocked(b)
	if len(b.members) == 2 {
		e.connectLineLocked(b.members[1], b.members[0])
	}
	for _, m := range b.members {
		e.updateHearingLocked(m)
	}
	ch.log.Info("entered bridge", zap.String("bridge_id", b.id), zap.Int("members", len(b.members)))
}

// leaveBridgeLocked takes ch out of its bridge; byHangup keeps the application
// subscribed to the emptied bridge (BridgeDestroyed still follows, t02/t11),
// an explicit removal does not (t12).
func (e *Engine) leaveBridgeLocked(ch *Channel, byHangup bool) {
	b := ch.bridge
	if b == nil {
		return
	}
	for i, m := range b.members {
		if m == ch {
			b.members = append(b.members[:i:i], b.members[i+1:]...)
			break
		}
	}
	ch.bridge = nil
	if ch.media != nil {
		b.mediaMembers--
	}
	if !ch.gone {
		e.varsetLocked(ch, "BRIDGEPEER", "")
		e.varsetLocked(ch, "BRIDGEPVTCALLID", "")
	}
	e.emit(ch.app, "ChannelLeftBridge", ch.id, map[string]any{"bridge": b.snapshot(), "channel": ch.snapshot()})
	prev := b.technology
	b.technology = bridgeTechnology(len(b.members))
	if len(b.members) == 2 && prev == "softmix" {
		e.connectLineLocked(b.members[0], b.members[1])
	}
	e.bridgePeersLocked(b)
	if !byHangup && len(b.members) == 0 && ch.app != nil {
		delete(b.apps, ch.app)
		delete(ch.app.bridges, b.id)
		e.reapApp(ch.app)
	}
	e.updateHearingLocked(ch)
	for _, m := range b.members {
		e.updateHearingLocked(m)
	}
}

// connectLineLocked: two parties now talk to each other; each learns the other's
// caller id, with a ChannelConnectedLine only where it changed (t07 has none).
func (e *Engine) connectLineLocked(first, second *Channel) {
	a, b := second.caller, first.caller
	if first.connected != a {
		first.connected = a
		e.emit(first.app, "ChannelConnectedLine", first.id, map[string]any{"channel": first.snapshot()})
	}
	if second.connected != b {
		second.connected = b
		e.emit(second.app, "ChannelConnectedLine", second.id, map[string]any{"channel": second.snapshot()})
	}
}

// bridgePeersLocked sets BRIDGEPEER/BRIDGEPVTCALLID on every member.
func (e *Engine) bridgePeersLocked(b *Bridge) {
	for _, m := range b.members {
		var peers, pvt []string
		for _, o := range b.members {
			if o != m {
				peers = append(peers, o.name)
				pvt = append(pvt, o.protocolID)
			}
		}
		e.varsetLocked(m, "BRIDGEPEER", strings.Join(peers, ","))
		e.varsetLocked(m, "BRIDGEPVTCALLID", strings.Join(pvt, ","))
	}
}
