package callflow

import (
	"context"
	"testing"
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
