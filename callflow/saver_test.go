package callflow

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// The sink refuses every version while the call ends (store buffer full): the ended
// version is held (one per call, the newest) and delivered once the sink accepts.
func TestEndedVersionRetriedWhenSinkIsFull(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
	id := h.call("12345")
	h.sink.full.Store(true)
	ended := h.callerHangsUpAndAllIsClean(id, "cit-12345")
	if h.sink.refused.Load() == 0 {
		t.Fatal("test setup: the sink refused nothing")
	}
	if got, _ := h.sink.GetCall(context.Background(), id); got.Ended != nil {
		t.Fatal("test setup: the ended version reached a full sink")
	}
	if n := h.ctl.saver.pending(); n != 1 {
		t.Errorf("held versions %d, want 1 (newest per call)", n)
	}
	h.sink.full.Store(false)
	eventually(t, "ended version delivered after the sink accepts again", func() bool {
		got, _ := h.sink.GetCall(context.Background(), id)
		return got.Ended != nil && got.Version == ended.Version
	})
	eventually(t, "nothing held", func() bool { return h.ctl.saver.pending() == 0 })
}

// hookSink refuses while full and calls onSave for each accepted version.
type hookSink struct {
	full   atomic.Bool
	mu     sync.Mutex
	got    []CallRecord
	onSave func(CallRecord)
}

func (s *hookSink) SaveCall(r CallRecord) error {
	if s.full.Load() {
		return errSinkFull
	}
	s.mu.Lock()
	s.got = append(s.got, r)
	hook := s.onSave
	s.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	return nil
}

func (s *hookSink) versions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.got {
		out = append(out, fmt.Sprintf("%s v%d", r.ID, r.Version))
	}
	return out
}

// Held versions: newest per call, oldest call first; a version that replaces a held
// one while that one is being retried is offered too, without waiting for another
// refusal to wake the loop.
func TestSaverHoldsNewestPerCallAndOffersReplacements(t *testing.T) {
	sink := &hookSink{}
	s := newSaver(sink, zaptest.NewLogger(t))
	s.min, s.max = time.Millisecond, 4*time.Millisecond
	sink.full.Store(true)
	for _, r := range []CallRecord{{ID: "A", Version: 1}, {ID: "B", Version: 1}, {ID: "A", Version: 2}, {ID: "A", Version: 5}, {ID: "A", Version: 3}} {
		s.save(r)
	}
	if n := s.pending(); n != 2 {
		t.Fatalf("held %d, want 2 (one per call)", n)
	}
	sink.onSave = func(r CallRecord) {
		if r.ID == "A" && r.Version == 5 {
			s.save(CallRecord{ID: "A", Version: 6}) // the call moved on meanwhile
		}
	}
	s.save(CallRecord{ID: "B", Version: 2}) // replaces B's held version
	sink.full.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "every held version delivered", func() bool { return s.pending() == 0 && len(sink.versions()) == 3 })
	if got := strings.Join(sink.versions(), ","); got != "A v5,B v2,A v6" {
		t.Errorf("delivered %s, want A v5,B v2,A v6", got)
	}
}
