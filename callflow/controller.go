package callflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"linkctl/config"
)

// RecordSource reads back saved call records (implemented by the store).
type RecordSource interface {
	GetCall(ctx context.Context, id string) (CallRecord, error)
	// UnfinishedCalls lists the records whose newest version has not ended; after a
	// restart the controller closes those whose channels are gone (interrupted).
	UnfinishedCalls(ctx context.Context) ([]CallRecord, error)
}

// ErrCallNotFound is returned by Softkey when no live call matches the request.
var ErrCallNotFound = errors.New("call not found")

// Options are the controller's collaborators.
type Options struct {
	Config  config.ControllerConfig
	Matters *config.Matters
	Sink    RecordSink // may be nil
	// History, if set, gives an adopted call (restart recovery) its earlier record, so
	// the record goes on with its legs, transfers and version (the store satisfies it).
	History RecordSource
	Logger  *zap.Logger // may be nil (no logging)
	// KeepEnded is how many ended call records Call/Calls keep in memory (default 10000).
	KeepEnded int
	// RestrictedFlags are the confidentiality flags (store.confidentiality.restricted_flags)
	// that make a call Confidential when its inbound X-Linkage-Flags carries one of them.
	// Nil means config.DefaultRestrictedFlags; an empty non-nil slice restricts no flag.
	RestrictedFlags []string
}

// Controller runs the call flows: one goroutine per citizen call, fed by the PBX
// event stream, softkeys and timers.
type Controller struct {
	pbx     PBX
	cfg     config.ControllerConfig
	log     *zap.Logger
	sink    RecordSink
	saver   *saver
	history RecordSource
	matters atomic.Pointer[config.Matters]
	prefix  string
	seq     atomic.Uint64

	mu        sync.Mutex
	calls     map[string]*call // live calls by call id
	byChannel map[string]*call // channel id -> live call
	records   map[string]CallRecord
	ended     []string // ended call ids, oldest first
	keepEnded int
	rr        map[Platform]int // round-robin position per group
	restrict  map[string]bool  // restricted confidentiality flags
	endpoints endpointCache    // endpoint states shared by concurrent transfers

	// swept: the records cut off by the last restart were closed (dispatcher only).
	swept bool
	// drain: set by Draining; hang-ups after it are the shutdown's (drain.go).
	drain drainMark

	wg sync.WaitGroup
}

// New makes a controller on a PBX.
func New(pbx PBX, opts Options) (*Controller, error) {
	if pbx == nil {
		return nil, errors.New("callflow: nil PBX")
	}
	if opts.Matters == nil {
		m, err := config.LoadMatters(opts.Config.MattersFile)
		if err != nil {
			return nil, fmt.Errorf("callflow: load matters list: %w", err)
		}
		opts.Matters = m
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if src, ok := opts.Sink.(RecordSource); ok && opts.History == nil {
		opts.History = src // a store that saves records can also give them back
	}
	if opts.KeepEnded <= 0 {
		opts.KeepEnded = 10000
	}
	prefix, err := newIDPrefix(time.Now(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("callflow: %w", err)
	}
	c := &Controller{
		prefix: prefix,
		pbx:    pbx, cfg: opts.Config, log: opts.Logger, sink: opts.Sink, history: opts.History,
		saver:     newSaver(opts.Sink, opts.Logger),
		calls:     map[string]*call{},
		byChannel: map[string]*call{},
		records:   map[string]CallRecord{},
		keepEnded: opts.KeepEnded,
		rr:        map[Platform]int{},
	}
	if opts.RestrictedFlags == nil {
		opts.RestrictedFlags = config.DefaultRestrictedFlags
	}
	c.restrict = map[string]bool{}
	for _, f := range opts.RestrictedFlags {
		if f = strings.TrimSpace(f); f != "" {
			c.restrict[f] = true
		}
	}
	c.matters.Store(opts.Matters)
	return c, nil
}

// ReloadMatters swaps the matters list; calls in progress see the new list on their next softkey.
func (c *Controller) ReloadMatters(m *config.Matters) {
	if m != nil {
		c.matters.Store(m)
		c.log.Info("matters list reloaded", zap.String("source", m.Source), zap.Int("rows", len(m.Rows)))
	}
}

// Matters is the list in use.
func (c *Controller) Matters() *config.Matters { return c.matters.Load() }

// Run dispatches PBX events until ctx ends or the event stream closes. Calls keep
// their channels when Run ends: a restarted controller finds them again.
func (c *Controller) Run(ctx context.Context) error {
	// Held record versions are retried until every call goroutine has returned.
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	saverDone := make(chan struct{})
	go func() {
		defer close(saverDone)
		c.saver.run(saverCtx)
	}()
	defer func() {
		c.wg.Wait()
		stopSaver()
		<-saverDone
	}()
	events := c.pbx.Events()
	for {
		select {
		case <-ctx.Done():
			c.stopAll(context.Cause(ctx))
			return nil
		case ev, ok := <-events:
			if !ok {
				c.stopAll(errors.New("pbx event stream closed"))
				return nil
			}
			c.dispatch(ctx, ev)
		}
	}
}

func (c *Controller) stopAll(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.calls {
		cl.cancel(fmt.Errorf("controller stopping: %w", cause))
	}
}

func (c *Controller) dispatch(ctx context.Context, ev Event) {
	switch e := ev.(type) {
	case Connected:
		c.log.Info("pbx events connected", zap.Bool("reconnect", e.Reconnect))
		c.recoverCalls(ctx)
		if !c.swept {
			// After recovery adopted what is still on the switch, close the rest.
			open, err := c.closeInterrupted(ctx)
			if err != nil {
				c.log.Warn("closing calls cut off by the restart; will retry on the next connect", zap.Error(err))
			}
			c.swept = err == nil && open == 0
		}
		if e.Reconnect {
			c.mu.Lock()
			for _, cl := range c.calls {
				cl.box.put(reconcileMsg{})
			}
			c.mu.Unlock()
		}
		return
	case StasisStart:
		c.mu.Lock()
		cl := c.byChannel[e.ChannelID]
		c.mu.Unlock()
		if cl != nil {
			cl.box.put(ev)
			return
		}
		if len(e.Args) >= 2 && e.Args[0] == "inbound" {
			p, ok := c.cfg.Entries[e.Args[1]]
			if !ok {
				c.log.Warn("inbound call to an unknown entry", zap.String("channel_id", e.ChannelID), zap.Strings("args", e.Args))
				return
			}
			c.startCall(ctx, e, Platform(p))
			return
		}
		if len(e.Args) > 0 && e.Args[0] == "outbound" {
			// One of our legs answered after its call ended: no orphan may stay up.
			c.log.Info("hanging up a leg of an ended call", zap.String("channel_id", e.ChannelID), zap.Strings("args", e.Args))
			hctx, cancel := context.WithTimeout(ctx, c.teardownTimeout())
			defer cancel()
			if err := c.pbx.Hangup(hctx, e.ChannelID, "normal"); err != nil && !errors.Is(err, ErrChannelGone) {
				c.log.Warn("hangup of an orphan leg", zap.String("channel_id", e.ChannelID), zap.Error(err))
			}
			return
		}
		c.log.Debug("stasis start of an unknown channel", zap.String("channel_id", e.ChannelID), zap.Strings("args", e.Args))
		return
	}
	id := ev.ChannelIDOf()
	c.mu.Lock()
	cl := c.byChannel[id]
	c.mu.Unlock()
	if cl != nil {
		cl.box.put(ev)
	}
}

// route sends the events of a channel id to a call. It is called before the command
// that creates the channel (subscribe before execute).
func (c *Controller) route(channelID string, cl *call) {
	c.mu.Lock()
	c.byChannel[channelID] = cl
	c.mu.Unlock()
}

func (c *Controller) unroute(channelID string) {
	c.mu.Lock()
	delete(c.byChannel, channelID)
	c.mu.Unlock()
}

// nextAgent returns the round-robin start position for a group.
func (c *Controller) nextAgent(p Platform, n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.rr[p] % n
	c.rr[p] = i + 1
	return i
}

// publish stores a record version and hands it to the sink.
func (c *Controller) publish(rec CallRecord, ended bool) {
	c.mu.Lock()
	c.records[rec.ID] = rec
	if ended {
		delete(c.calls, rec.ID)
		c.ended = append(c.ended, rec.ID)
		for len(c.ended) > c.keepEnded {
			delete(c.records, c.ended[0])
			c.ended = c.ended[1:]
		}
	}
	c.mu.Unlock()
	c.saver.save(rec) // a refused version is held and retried, never dropped
}

// Call returns the latest version of a call record (live or recently ended).
func (c *Controller) Call(id string) (CallRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.records[id]
	return r, ok
}

// Calls returns every known call record, live ones first.
func (c *Controller) Calls() []CallRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CallRecord, 0, len(c.records))
	for id := range c.calls {
		if r, ok := c.records[id]; ok { // a call just started may not have published yet
			out = append(out, r)
		}
	}
	for i := len(c.ended) - 1; i >= 0; i-- {
		if r, ok := c.records[c.ended[i]]; ok {
			out = append(out, r)
		}
	}
	return out
}

// LiveCalls is the number of calls in progress.
func (c *Controller) LiveCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// Softkey delivers a softkey to its call and waits for the call's answer. A key the
// call refuses (wrong state, unknown category) is Accepted false with a zh-CN Reason
// and a nil error; a press by an agent who is not connected with the citizen now
// (only rang, hung up, not in the call) is refused with an error wrapping
// ErrNotConnected, and the Reason says why in zh-CN.
func (c *Controller) Softkey(ctx context.Context, req SoftkeyRequest) (SoftkeyResult, error) {
	if _, ok := req.Key.input(); !ok {
		return SoftkeyResult{Reason: fmt.Sprintf("未知的操作键 %q", req.Key)}, fmt.Errorf("softkey %q: %w", req.Key, ErrUnknownKey)
	}
	if req.Source == "" {
		req.Source = SourceHTTP
	}
	c.mu.Lock()
	cl := c.calls[req.CallID]
	if cl == nil && req.ChannelID != "" {
		cl = c.byChannel[req.ChannelID]
	}
	c.mu.Unlock()
	if cl == nil {
		return SoftkeyResult{CallID: req.CallID, Reason: "找不到该通话（可能已结束）"}, fmt.Errorf("softkey %s for call %q channel %q: %w", req.Key, req.CallID, req.ChannelID, ErrCallNotFound)
	}
	reply := make(chan softkeyReply, 1)
	cl.box.put(softkeyMsg{req: req, reply: reply})
	select {
	case r := <-reply:
		return r.res, r.err
	case <-cl.ctx.Done():
		// The call may have answered just before it ended.
		select {
		case r := <-reply:
			return r.res, r.err
		default:
		}
		return SoftkeyResult{CallID: cl.id, Reason: "通话已结束"}, fmt.Errorf("softkey %s: call %s ended: %w", req.Key, cl.id, ErrCallNotFound)
	case <-ctx.Done():
		return SoftkeyResult{CallID: cl.id, Reason: "操作超时"}, fmt.Errorf("softkey %s on call %s: %w", req.Key, cl.id, ctx.Err())
	}
}

// ErrUnknownKey is returned for a softkey name callflow does not know.
var ErrUnknownKey = errors.New("unknown softkey")

// endpointOf turns a channel name ("PJSIP/a110-2001-00000002") or dial string into
// the endpoint ("PJSIP/a110-2001").
func endpointOf(name string) string {
	tech, rest, ok := strings.Cut(name, "/")
	if !ok {
		return name
	}
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		suffix := rest[i+1:]
		if len(suffix) == 8 && strings.Trim(suffix, "0123456789abcdef") == "" {
			rest = rest[:i]
		}
	}
	return tech + "/" + rest
}

// agentName is the resource part of a dial string ("a110-2001").
func agentName(endpoint string) string {
	if _, rest, ok := strings.Cut(endpoint, "/"); ok {
		return rest
	}
	return endpoint
}

func (c *Controller) teardownTimeout() time.Duration {
	if d := c.cfg.TeardownTimeout.D(); d > 0 {
		return d
	}
	return 5 * time.Second
}
