package callflow

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePBX is a small in-memory switch: channels, bridges, media state and the
// event order the Asterisk traces show (no final Dial on noanswer, ChannelDestroyed
// with the cause for originated legs, none for inbound channels).
type fakePBX struct {
	mu       sync.Mutex
	chans    map[string]*fchan
	bridges  map[string][]string
	behave   map[string]fbehave // by endpoint
	events   chan Event
	cmds     []string
	vars     map[string]map[string]string
	origVars map[string]map[string]string
	epState  map[string]EndpointStatus // "Tech/resource" -> state; absent = 404
	closed   bool
}

type fbehave struct {
	kind  string // answer, busy, noanswer, unavailable, manual
	delay time.Duration
}

type fchan struct {
	id, endpoint string
	up           bool
	originated   bool
	inStasis     bool
	bridge       string
	moh, ring    bool
	playing      map[string]bool
}

func newFakePBX() *fakePBX {
	return &fakePBX{chans: map[string]*fchan{}, bridges: map[string][]string{}, behave: map[string]fbehave{},
		events: make(chan Event, 4096), vars: map[string]map[string]string{}, origVars: map[string]map[string]string{}}
}

func (f *fakePBX) Events() <-chan Event { return f.events }

func (f *fakePBX) EndpointState(ctx context.Context, tech, resource string) (EndpointStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("endpoint state %s/%s", tech, resource)
	st, ok := f.epState[tech+"/"+resource]
	if !ok {
		return EndpointUnknown, &PBXError{Op: "endpoint state", ID: tech + "/" + resource, Status: 404, Kind: ErrNoSuchEndpoint}
	}
	return st, nil
}

func (f *fakePBX) setEndpointState(ep string, st EndpointStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.epState == nil {
		f.epState = map[string]EndpointStatus{}
	}
	f.epState[ep] = st
}

func (f *fakePBX) emit(evs ...Event) {
	for _, e := range evs {
		f.events <- e
	}
}

func (f *fakePBX) log(format string, a ...any) {
	f.cmds = append(f.cmds, fmt.Sprintf(format, a...))
}

func (f *fakePBX) gone(op, id string) error {
	return &PBXError{Op: op, ID: id, Status: 404, Message: "Channel not found", Kind: ErrChannelGone}
}

func (f *fakePBX) Answer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("answer %s", id)
	c := f.chans[id]
	if c == nil {
		return f.gone("answer", id)
	}
	c.up = true
	return nil
}

func (f *fakePBX) Originate(ctx context.Context, req OriginateRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("originate %s %s", req.ChannelID, req.Endpoint)
	if _, dup := f.chans[req.ChannelID]; dup {
		return &PBXError{Op: "originate", ID: req.ChannelID, Status: 409, Kind: ErrConflict}
	}
	b := f.behave[req.Endpoint]
	if b.kind == "unavailable" || b.kind == "" {
		return &PBXError{Op: "originate", ID: req.ChannelID, Status: 500, Message: "Allocation failed", Kind: ErrAllocationFailed}
	}
	f.chans[req.ChannelID] = &fchan{id: req.ChannelID, endpoint: req.Endpoint, originated: true, playing: map[string]bool{}}
	f.origVars[req.ChannelID] = req.Variables
	for k, v := range req.Variables {
		if !strings.HasPrefix(k, "PJSIP_") {
			if f.vars[req.ChannelID] == nil {
				f.vars[req.ChannelID] = map[string]string{}
			}
			f.vars[req.ChannelID][k] = v
		}
	}
	id := req.ChannelID
	go func() {
		time.Sleep(b.delay)
		switch b.kind {
		case "answer":
			f.answerLeg(id)
		case "busy":
			f.failLeg(id, 17, "User busy", true)
		case "noanswer":
			time.Sleep(req.Timeout)
			f.failLeg(id, 19, "User alerting, no answer", false)
		}
	}()
	return nil
}

// answerLeg: the far end answers an originated leg (Dial ANSWER, StasisStart).
func (f *fakePBX) answerLeg(id string) {
	f.mu.Lock()
	c := f.chans[id]
	if c == nil || c.up {
		f.mu.Unlock()
		return
	}
	c.up, c.inStasis = true, true
	f.mu.Unlock()
	f.emit(DialStatus{ChannelID: id, Status: "ANSWER"}, StasisStart{ChannelID: id, Name: c.endpoint + "-00000001", State: "Up", Args: []string{"outbound"}})
}

func (f *fakePBX) failLeg(id string, cause int, txt string, hangupReq bool) {
	f.mu.Lock()
	c := f.chans[id]
	if c == nil || c.up {
		f.mu.Unlock()
		return
	}
	delete(f.chans, id)
	f.mu.Unlock()
	if hangupReq {
		f.emit(HangupRequest{ChannelID: id, Cause: cause}, DialStatus{ChannelID: id, Status: "BUSY"})
	}
	f.emit(ChannelDestroyed{ChannelID: id, Cause: cause, CauseText: txt})
}

func (f *fakePBX) Create(ctx context.Context, req OriginateRequest) error {
	return f.Originate(ctx, req)
}
func (f *fakePBX) Dial(ctx context.Context, id, caller string, timeout time.Duration) error {
	return nil
}

func (f *fakePBX) Hangup(ctx context.Context, id, reason string) error {
	f.mu.Lock()
	f.log("hangup %s %s", id, reason)
	c := f.chans[id]
	if c == nil {
		f.mu.Unlock()
		return f.gone("hangup", id)
	}
	f.removeLocked(c)
	delete(f.chans, id)
	f.mu.Unlock()
	evs := []Event{HangupRequest{ChannelID: id, Cause: 32, Soft: true}}
	if c.inStasis {
		evs = append(evs, StasisEnd{ChannelID: id})
	}
	if c.originated {
		cause, txt := 16, "Normal Clearing"
		if !c.up {
			evs = append(evs, DialStatus{ChannelID: id, Status: "NOANSWER"})
		}
		evs = append(evs, ChannelDestroyed{ChannelID: id, Cause: cause, CauseText: txt})
	}
	f.emit(evs...)
	return nil
}

func (f *fakePBX) removeLocked(c *fchan) {
	if c.bridge == "" {
		return
	}
	b := c.bridge
	f.bridges[b] = slices.DeleteFunc(f.bridges[b], func(s string) bool { return s == c.id })
	c.bridge = ""
}

func (f *fakePBX) set(op, id string, fn func(c *fchan)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("%s %s", op, id)
	c := f.chans[id]
	if c == nil {
		return f.gone(op, id)
	}
	fn(c)
	return nil
}

func (f *fakePBX) Ring(ctx context.Context, id string) error {
	return f.set("ring", id, func(c *fchan) { c.ring = true })
}
func (f *fakePBX) StopRing(ctx context.Context, id string) error {
	return f.set("stopring", id, func(c *fchan) { c.ring = false })
}
func (f *fakePBX) StartMOH(ctx context.Context, id, class string) error {
	return f.set("moh", id, func(c *fchan) { c.moh = true })
}
func (f *fakePBX) StopMOH(ctx context.Context, id string) error {
	return f.set("stopmoh", id, func(c *fchan) { c.moh = false })
}
func (f *fakePBX) Play(ctx context.Context, id, pb, media string) error {
	return f.set("play "+media, id, func(c *fchan) { c.playing[pb] = true })
}
func (f *fakePBX) StopPlayback(ctx context.Context, pb string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.chans {
		delete(c.playing, pb)
	}
	return nil
}
func (f *fakePBX) GetVar(ctx context.Context, id, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.vars[id][name]; ok {
		return v, nil
	}
	return "", &PBXError{Op: "get var", ID: id, Status: 500, Kind: ErrNoSuchVariable}
}
func (f *fakePBX) SetVar(ctx context.Context, id, name, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.vars[id] == nil {
		f.vars[id] = map[string]string{}
	}
	f.vars[id][name] = value
	return nil
}
func (f *fakePBX) TransferProgress(ctx context.Context, id, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("transfer_progress %s %s", id, state)
	return nil
}
func (f *fakePBX) CreateBridge(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("bridge create %s", id)
	if _, ok := f.bridges[id]; ok {
		return &PBXError{Op: "bridge create", ID: id, Status: 409, Kind: ErrConflict}
	}
	f.bridges[id] = []string{}
	return nil
}
func (f *fakePBX) DestroyBridge(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("bridge destroy %s", id)
	if _, ok := f.bridges[id]; !ok {
		return &PBXError{Op: "bridge destroy", ID: id, Status: 404, Kind: ErrBridgeGone}
	}
	for _, cid := range f.bridges[id] {
		if c := f.chans[cid]; c != nil {
			c.bridge = ""
		}
	}
	delete(f.bridges, id)
	return nil
}
func (f *fakePBX) AddToBridge(ctx context.Context, id string, chans ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("bridge add %s %s", id, strings.Join(chans, ","))
	if _, ok := f.bridges[id]; !ok {
		return &PBXError{Op: "bridge add", ID: id, Status: 404, Kind: ErrBridgeGone}
	}
	for _, cid := range chans {
		c := f.chans[cid]
		if c == nil {
			return &PBXError{Op: "bridge add", ID: cid, Status: 400, Kind: ErrChannelGone}
		}
		f.removeLocked(c)
		c.bridge = id
		f.bridges[id] = append(f.bridges[id], cid)
	}
	return nil
}
func (f *fakePBX) RemoveFromBridge(ctx context.Context, id, cid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("bridge remove %s %s", id, cid)
	c := f.chans[cid]
	if c == nil {
		return &PBXError{Op: "bridge remove", ID: cid, Status: 400, Kind: ErrChannelGone}
	}
	if c.bridge != id {
		return &PBXError{Op: "bridge remove", ID: cid, Status: 422, Kind: ErrNotInStasis}
	}
	f.removeLocked(c)
	return nil
}
func (f *fakePBX) Channels(ctx context.Context) ([]ChannelInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ChannelInfo
	for _, c := range f.chans {
		st := "Down"
		if c.up {
			st = "Up"
		}
		out = append(out, ChannelInfo{ID: c.id, Name: c.endpoint, State: st})
	}
	return out, nil
}
func (f *fakePBX) Bridges(ctx context.Context) ([]BridgeInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []BridgeInfo
	for id, cs := range f.bridges {
		out = append(out, BridgeInfo{ID: id, Channels: slices.Clone(cs)})
	}
	return out, nil
}

// test helpers

func (f *fakePBX) inbound(id, entry, number string) {
	f.mu.Lock()
	f.chans[id] = &fchan{id: id, endpoint: "PJSIP/citizen", inStasis: true, playing: map[string]bool{}}
	f.mu.Unlock()
	f.emit(StasisStart{ChannelID: id, Name: "PJSIP/citizen-00000001", State: "Ring", CallerNumber: number, Args: []string{"inbound", entry}})
}

// remoteHangup: the far end hangs up (BYE): no cause, StasisEnd; originated legs also get ChannelDestroyed.
func (f *fakePBX) remoteHangup(id string) {
	f.mu.Lock()
	c := f.chans[id]
	if c == nil {
		f.mu.Unlock()
		return
	}
	f.removeLocked(c)
	delete(f.chans, id)
	f.mu.Unlock()
	evs := []Event{HangupRequest{ChannelID: id}, StasisEnd{ChannelID: id}}
	if c.originated {
		evs = append(evs, ChannelDestroyed{ChannelID: id, Cause: 16, CauseText: "Normal Clearing"})
	}
	f.emit(evs...)
}

func (f *fakePBX) dtmf(id, digits string) {
	for _, d := range digits {
		f.emit(DTMFReceived{ChannelID: id, Digit: string(d)})
	}
}

// partners returns the endpoints bridged with a channel, sorted.
func (f *fakePBX) partners(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.chans[id]
	if c == nil || c.bridge == "" {
		return nil
	}
	var out []string
	for _, o := range f.bridges[c.bridge] {
		if o != id {
			out = append(out, f.chans[o].endpoint)
		}
	}
	sort.Strings(out)
	return out
}

// hears says what a channel hears: "party", "moh", "ring", "playback" or "silence".
func (f *fakePBX) hears(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.chans[id]
	switch {
	case c == nil:
		return "gone"
	case c.bridge != "" && len(f.bridges[c.bridge]) > 1:
		return "party"
	case len(c.playing) > 0:
		return "playback"
	case c.moh:
		return "moh"
	case c.ring:
		return "ring"
	}
	return "silence"
}

func (f *fakePBX) liveChannels() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.chans)
}

func (f *fakePBX) liveBridges() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bridges)
}

func (f *fakePBX) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

// eventually polls cond for up to 3 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for: %s", what)
}

var testEpoch = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func msDur(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

func keysStr(ks []Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func (f *fakePBX) originateVars(id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.origVars[id]
}
