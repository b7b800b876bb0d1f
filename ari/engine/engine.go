package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// DialplanEntry routes an inbound extension into a Stasis application, like
// `exten => 12345,n,Stasis(linkctl,inbound,12345)`.
type DialplanEntry struct {
	Exten   string
	App     string
	AppArgs []string
}

// Options configure an Engine.
type Options struct {
	// SystemName prefixes channel ids: <SystemName>-<epoch>.<n>.
	SystemName string
	// AsteriskID is the entity id reported as asterisk_id.
	AsteriskID string
	// Context is the dialplan context name reported in channel snapshots.
	Context string
	// Dialplan routes inbound extensions.
	Dialplan []DialplanEntry
	// SoundsDir holds NAME.wav files played with sound:NAME.
	SoundsDir string
	// ToneZone is the default tone zone ("cn").
	ToneZone string
	// RetainHearing keeps hung-up channels' hearing logs for Engine.Hearing (tests).
	RetainHearing bool
	// Now is the clock (tests); time.Now if nil.
	Now func() time.Time
	// MediaWorkers is how many goroutines share one media tick (one per 64
	// media legs at most). 0: one, and GOMAXPROCS (at most 8) while ticks take
	// longer than 3/4 of a frame on average.
	MediaWorkers int
}

// Engine is the switch core: channels, bridges, Stasis applications, playbacks
// and the media clock. All state is guarded by one mutex; every event is queued
// to its application's subscribers while that mutex is held, so each
// application sees events in one strict order. Technologies are called only
// after the mutex is released (see unlock).
type Engine struct {
	opts Options
	log  *zap.Logger

	mu        sync.Mutex
	pending   []func() // technology calls to run after unlock, in order
	techs     map[string]Technology
	channels  map[string]*Channel
	bridges   map[string]*Bridge
	playbacks map[string]*Playback
	apps      map[string]*App
	chanSeq   int64
	nameSeq   int64
	observers []func(Event)
	allSubs   map[*Subscription]struct{} // subscribeAll=true websockets

	generating map[*Channel]struct{}
	clips      map[string]*clipEntry
	retired    map[string]*Channel // hung-up channels kept for Hearing (Options.RetainHearing)
	clock      mediaClock          // the media tick's scratch and counters (clock.go)

	idSeq   atomic.Int64
	started time.Time

	// shutdown (drain.go)
	phase       Phase
	retryAfter  time.Duration
	idleWaiters []chan struct{}
}

// New builds an engine; call Run to start its media clock.
func New(opts Options, log *zap.Logger) *Engine {
	if log == nil {
		log = zap.NewNop()
	}
	if opts.SystemName == "" {
		opts.SystemName = "linkctl-pbx"
	}
	if opts.AsteriskID == "" {
		opts.AsteriskID = "02:fc:00:00:00:01"
	}
	if opts.Context == "" {
		opts.Context = "from-internal"
	}
	if opts.ToneZone == "" {
		opts.ToneZone = "cn"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{
		opts:       opts,
		log:        log,
		techs:      map[string]Technology{},
		channels:   map[string]*Channel{},
		bridges:    map[string]*Bridge{},
		playbacks:  map[string]*Playback{},
		apps:       map[string]*App{},
		generating: map[*Channel]struct{}{},
		clips:      map[string]*clipEntry{},
		retired:    map[string]*Channel{},
		allSubs:    map[*Subscription]struct{}{},
		started:    opts.Now(),
	}
	e.clock.maxWorkers = opts.MediaWorkers
	return e
}

// Options returns the engine's effective options.
func (e *Engine) Options() Options { return e.opts }

// Started is when the engine was built (ARI status.startup_time).
func (e *Engine) Started() time.Time { return e.started }

// RegisterTech plugs a channel technology in under its Name().
func (e *Engine) RegisterTech(t Technology) {
	e.mu.Lock()
	e.techs[t.Name()] = t
	e.mu.Unlock()
}

// Observe registers a hook called (under the engine lock, so it must not block
// or call back into the engine) with every event emitted, for tests and audits.
func (e *Engine) Observe(f func(Event)) {
	e.mu.Lock()
	e.observers = append(e.observers, f)
	e.mu.Unlock()
}

// unlock releases the engine mutex, then runs the technology calls queued while it was held.
func (e *Engine) unlock() {
	p := e.pending
	e.pending = nil
	e.mu.Unlock()
	for _, f := range p {
		f()
	}
}

// after queues f to run once the engine mutex is released.
func (e *Engine) after(f func()) { e.pending = append(e.pending, f) }

func (e *Engine) now() time.Time { return e.opts.Now() }

func (e *Engine) ts(t time.Time) string { return t.Format(TimeFormat) }

// newUUID makes a random-looking unique id (bridge and playback ids Asterisk makes are UUIDs).
func (e *Engine) newUUID() string {
	n := e.idSeq.Add(1)
	t := e.now().UnixNano()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(t>>16), uint16(t), uint16(n>>12)&0xfff, uint16(n)&0xfff, uint64(t)^uint64(n)<<20)
}

// App is a Stasis application: registered while a websocket is subscribed or
// while it still owns channels or bridges.
type App struct {
	name     string
	subs     map[*Subscription]struct{}
	channels map[string]*Channel
	bridges  map[string]*Bridge
}

func (e *Engine) appLocked(name string) *App {
	a := e.apps[name]
	if a == nil {
		a = &App{name: name, subs: map[*Subscription]struct{}{}, channels: map[string]*Channel{}, bridges: map[string]*Bridge{}}
		e.apps[name] = a
	}
	return a
}

// reapApp forgets an application that has no websocket and nothing subscribed (t13).
func (e *Engine) reapApp(a *App) {
	if a != nil && len(a.subs) == 0 && len(a.channels) == 0 && len(a.bridges) == 0 {
		if e.apps[a.name] == a {
			delete(e.apps, a.name)
		}
	}
}

// emit queues an event for app's subscribers, subscribeAll subscribers of other
// applications, and observers. a nil app reaches subscribeAll subscribers only
// (BridgeCreated). Caller holds e.mu.
func (e *Engine) emit(a *App, typ string, chID string, fields map[string]any) {
	ev := Event{Type: typ, Time: e.now(), ChannelID: chID, Fields: fields}
	if a != nil {
		ev.App = a.name
		for s := range a.subs {
			s.push(ev)
		}
	}
	for s := range e.allSubs {
		if s.app != a {
			cp := ev
			cp.App = s.app.name
			s.push(cp)
		}
	}
	if a == nil {
		return
	}
	for _, o := range e.observers {
		o(ev)
	}
}

// Subscription is one websocket's event queue. Events are never dropped while
// it is open and never replayed to a later subscription.
type Subscription struct {
	e    *Engine
	app  *App
	mu   sync.Mutex
	q    []Event
	wake chan struct{}
	done chan struct{}
	once sync.Once
}

// Subscribe registers a websocket for app (creating the application).
func (e *Engine) Subscribe(app string) *Subscription { return e.subscribe(app, false) }

// SubscribeAll is Subscribe with subscribeAll=true: the websocket also gets every
// other application's events and bridge creation.
func (e *Engine) SubscribeAll(app string) *Subscription { return e.subscribe(app, true) }

func (e *Engine) subscribe(app string, all bool) *Subscription {
	e.mu.Lock()
	defer e.unlock()
	a := e.appLocked(app)
	s := &Subscription{e: e, app: a, wake: make(chan struct{}, 1), done: make(chan struct{})}
	a.subs[s] = struct{}{}
	if all {
		e.allSubs[s] = struct{}{}
	}
	e.log.Info("stasis application subscribed", zap.String("app", app), zap.Int("subscribers", len(a.subs)))
	return s
}

func (s *Subscription) push(ev Event) {
	s.mu.Lock()
	s.q = append(s.q, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next waits for the next event; ok is false when ctx ends or the subscription is closed.
func (s *Subscription) Next(ctx context.Context) (Event, bool) {
	for {
		s.mu.Lock()
		if len(s.q) > 0 {
			ev := s.q[0]
			s.q[0] = Event{}
			s.q = s.q[1:]
			s.mu.Unlock()
			return ev, true
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
			return Event{}, false
		case <-ctx.Done():
			return Event{}, false
		}
	}
}

// Close unregisters the websocket; the application lives on while it owns channels.
func (s *Subscription) Close() {
	s.once.Do(func() {
		close(s.done)
		e := s.e
		e.mu.Lock()
		delete(s.app.subs, s)
		delete(e.allSubs, s)
		e.reapApp(s.app)
		e.log.Info("stasis application unsubscribed", zap.String("app", s.app.name))
		e.unlock()
	})
}

// Application returns GET /applications/{name}.
func (e *Engine) Application(name string) (ApplicationJSON, error) {
	e.mu.Lock()
	defer e.unlock()
	a := e.apps[name]
	if a == nil {
		return ApplicationJSON{}, errf(404, "Application not found")
	}
	return appJSON(a), nil
}

// Applications returns GET /applications.
func (e *Engine) Applications() []ApplicationJSON {
	e.mu.Lock()
	defer e.unlock()
	out := make([]ApplicationJSON, 0, len(e.apps))
	for _, a := range e.apps {
		out = append(out, appJSON(a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func appJSON(a *App) ApplicationJSON {
	j := ApplicationJSON{Name: a.name, ChannelIDs: []string{}, BridgeIDs: []string{}, EndpointIDs: []string{}, DeviceNames: []string{}, EventsAllowed: []any{}, EventsDisallowed: []any{}}
	for id := range a.channels {
		j.ChannelIDs = append(j.ChannelIDs, id)
	}
	for id := range a.bridges {
		j.BridgeIDs = append(j.BridgeIDs, id)
	}
	sort.Strings(j.ChannelIDs)
	sort.Strings(j.BridgeIDs)
	return j
}

// Endpoints returns GET /endpoints (tech "" = all) with their channel ids.
func (e *Engine) Endpoints(tech string) ([]EndpointJSON, error) {
	e.mu.Lock()
	techs := make([]Technology, 0, len(e.techs))
	for name, t := range e.techs {
		if tech == "" || name == tech {
			techs = append(techs, t)
		}
	}
	e.unlock()
	if tech != "" && len(techs) == 0 {
		return nil, errf(404, "Endpoints not found")
	}
	var out []EndpointJSON
	for _, t := range techs {
		for _, ep := range t.Endpoints() {
			out = append(out, EndpointJSON{Technology: t.Name(), Resource: ep.Resource, State: ep.State, ChannelIDs: []string{}})
		}
	}
	e.mu.Lock()
	for i := range out {
		for _, ch := range e.channels {
			if ch.techName == out[i].Technology && ch.resource == out[i].Resource {
				out[i].ChannelIDs = append(out[i].ChannelIDs, ch.id)
			}
		}
		sort.Strings(out[i].ChannelIDs)
	}
	e.unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Technology != out[j].Technology {
			return out[i].Technology < out[j].Technology
		}
		return out[i].Resource < out[j].Resource
	})
	if out == nil {
		out = []EndpointJSON{}
	}
	return out, nil
}

// splitArgs splits Stasis appArgs the way Asterisk does (comma separated, "" = none).
func splitArgs(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}
