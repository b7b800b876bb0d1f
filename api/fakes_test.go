package api

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// fakeController records softkeys and answers from a table of calls.
type fakeController struct {
	mu       sync.Mutex
	calls    map[string]callflow.CallRecord
	got      []callflow.SoftkeyRequest
	answer   func(callflow.SoftkeyRequest) (callflow.SoftkeyResult, error)
	reloaded *config.Matters
	block    chan struct{} // when set, Softkey waits for it or the context, like a busy call goroutine
}

func newFakeController(recs ...callflow.CallRecord) *fakeController {
	c := &fakeController{calls: map[string]callflow.CallRecord{}}
	for _, r := range recs {
		c.calls[r.ID] = r
	}
	return c
}

func (c *fakeController) Softkey(ctx context.Context, req callflow.SoftkeyRequest) (callflow.SoftkeyResult, error) {
	c.mu.Lock()
	c.got = append(c.got, req)
	answer, block := c.answer, c.block
	c.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return callflow.SoftkeyResult{Reason: "操作超时"}, fmt.Errorf("softkey %s: %w", req.Key, ctx.Err())
		}
	}
	if answer != nil {
		return answer(req)
	}
	return callflow.SoftkeyResult{Accepted: true, CallID: req.CallID, TransferID: "tr-1"}, nil
}

func (c *fakeController) Call(id string) (callflow.CallRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.calls[id]
	return r, ok
}

func (c *fakeController) Calls() []callflow.CallRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]callflow.CallRecord, 0, len(c.calls))
	for _, r := range c.calls {
		out = append(out, r)
	}
	return out
}

func (c *fakeController) ReloadMatters(m *config.Matters) {
	c.mu.Lock()
	c.reloaded = m
	c.mu.Unlock()
}

func (c *fakeController) SetTicket(ctx context.Context, id string, platform callflow.Platform, ticket string) (callflow.CallRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.calls[id]
	if !ok {
		return r, fmt.Errorf("set ticket: %w", callflow.ErrCallNotFound)
	}
	if platform == callflow.Platform110 {
		r.Ticket110 = ticket
	} else {
		r.Ticket12345 = ticket
	}
	c.calls[id] = r
	return r, nil
}

func (c *fakeController) requests() []callflow.SoftkeyRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]callflow.SoftkeyRequest(nil), c.got...)
}

// fakeStore keeps records and pushes in memory and fans updates out to subscribers.
type fakeStore struct {
	mu         sync.Mutex
	calls      map[string]callflow.CallRecord
	pushes     map[string]store.Push
	subs       map[int]chan callflow.CallRecord
	nextSub    int
	lastFilter store.CallFilter
	healthErr  error
	stats      store.DailyStats
	// statsReader is the reader platform of the last DailyStatsFor.
	statsReader callflow.Platform
	statsDay    time.Time
	deliveries  []store.Delivery
}

func newFakeStore(recs ...callflow.CallRecord) *fakeStore {
	s := &fakeStore{calls: map[string]callflow.CallRecord{}, pushes: map[string]store.Push{}, subs: map[int]chan callflow.CallRecord{}}
	for _, r := range recs {
		s.calls[r.ID] = r
	}
	return s
}

// save stores a record version and publishes it, as the real store does.
func (s *fakeStore) save(rec callflow.CallRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[rec.ID] = rec
	for _, ch := range s.subs {
		select {
		case ch <- rec:
		default:
		}
	}
}

func (s *fakeStore) subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

func (s *fakeStore) GetCall(_ context.Context, id string) (callflow.CallRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.calls[id]
	if !ok {
		return r, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	return r, nil
}

func (s *fakeStore) ListCalls(_ context.Context, f store.CallFilter) ([]callflow.CallRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFilter = f
	var out []callflow.CallRecord
	for _, r := range s.calls {
		if matchCall(f, r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (s *fakeStore) Subscribe() (<-chan callflow.CallRecord, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextSub
	s.nextSub++
	ch := make(chan callflow.CallRecord, 16)
	s.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, id)
			s.mu.Unlock()
		})
	}
}

func (s *fakeStore) DailyStatsFor(_ context.Context, day time.Time, reader callflow.Platform) (store.DailyStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statsDay, s.statsReader = day, reader
	st := s.stats
	st.Day = day.Format(time.DateOnly)
	return st, nil
}

var fakeMoves = map[store.PushStatus][]store.PushStatus{
	store.PushPushed:   {store.PushAccepted, store.PushReturned},
	store.PushAccepted: {store.PushHandled, store.PushReturned},
	store.PushHandled:  {store.PushFedBack},
}

func (s *fakeStore) CreatePush(_ context.Context, p store.Push) (store.Push, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ID = fmt.Sprintf("push-%d", len(s.pushes)+1)
	p.Status = store.PushPushed
	p.Created = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	p.Updated = p.Created
	p.History = []store.PushEvent{{Seq: 1, Status: store.PushPushed, At: p.Created, By: p.CreatedBy}}
	s.pushes[p.ID] = p
	return p, nil
}

func (s *fakeStore) GetPush(_ context.Context, id string) (store.Push, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pushes[id]
	if !ok {
		return p, fmt.Errorf("push %s: %w", id, ErrNotFound)
	}
	return p, nil
}

func (s *fakeStore) ListPushes(_ context.Context, f store.PushFilter) ([]store.Push, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Push
	for _, p := range s.pushes {
		if (f.Direction == "" || p.Direction == f.Direction) && (f.Status == 0 || p.Status == f.Status) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *fakeStore) UpdatePush(_ context.Context, id string, u store.PushUpdate) (store.Push, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pushes[id]
	if !ok {
		return p, fmt.Errorf("push %s: %w", id, ErrNotFound)
	}
	legal := false
	for _, to := range fakeMoves[p.Status] {
		legal = legal || to == u.Status
	}
	if !legal {
		return p, fmt.Errorf("push %s: cannot move from %s to %s: %w", id, p.Status, u.Status, ErrConflict)
	}
	p.Status, p.Reason, p.Feedback = u.Status, u.Reason, u.Feedback
	p.History = append(p.History, store.PushEvent{Seq: len(p.History) + 1, Status: u.Status, By: u.By, Reason: u.Reason})
	s.pushes[id] = p
	return p, nil
}

func (s *fakeStore) Deliveries(_ context.Context, kind, id string) ([]store.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Delivery
	for _, d := range s.deliveries {
		if d.Kind == kind && d.ItemID == id {
			out = append(out, d)
		}
	}
	return out, nil
}

func (s *fakeStore) Healthy(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.healthErr
}

// sampleCall is a finished one-key 12345->110 transfer with three legs.
func sampleCall(id string, started time.Time) callflow.CallRecord {
	at := func(sec int) *time.Time { t := started.Add(time.Duration(sec) * time.Second); return &t }
	return callflow.CallRecord{
		ID: id, FirstPlatform: callflow.Platform12345, OwnerPlatform: callflow.Platform110,
		CallerNumber: "13800000001", Ticket12345: "GD-" + id, Ticket110: "JQ-" + id,
		Category: "社会治安类/盗砸抢骗", State: "ended", Started: started, Answered: at(2), Ended: at(40),
		EndCause: "normal", Outcome: "transferred", Version: 7,
		Legs: []callflow.Leg{
			{ChannelID: id + "-citizen", Role: callflow.RoleCitizen, Endpoint: "PJSIP/trunk-in", Created: started, Answered: at(2), Bridged: at(2), Left: at(40), HungUp: at(40), Cause: 16, CauseText: "Normal Clearing"},
			{ChannelID: id + "-a1", Role: callflow.RoleAgent12345, Endpoint: "PJSIP/a12345-1001", Agent: "a12345-1001", Created: started, Answered: at(2), Bridged: at(2), Left: at(20), HungUp: at(20), Cause: 16, CauseText: "Normal Clearing"},
			{ChannelID: id + "-a2", Role: callflow.RoleAgent110, Endpoint: "PJSIP/a110-2001", Agent: "a110-2001", Created: *at(12), Answered: at(18), Bridged: at(19), Left: at(40), HungUp: at(40), Cause: 16, CauseText: "Normal Clearing"},
		},
		Softkeys:  []callflow.Softkey{{At: *at(10), Agent: "a12345-1001", Key: "transfer", Source: "http", Accepted: true}},
		Transfers: []callflow.Transfer{{ID: "tr-" + id, Mode: callflow.ModeOneKey, Direction: callflow.Dir12345To110, Category: "社会治安类/盗砸抢骗", Requested: *at(10), Answered: at(18), Completed: at(20), Outcome: callflow.OutcomeCompleted, TargetLeg: id + "-a2", FromAgent: "a12345-1001", ToAgent: "a110-2001"}},
	}
}
