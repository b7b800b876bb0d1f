package callflow

import (
	"context"
	"errors"
	"testing"
)

// TestSetTicketLiveAndEnded: the receiving platform assigns its own ticket during the
// call and after it ended; the record carries both tickets, an ended record is saved
// again as a new version, and a different ticket for the same platform is refused.
func TestSetTicketLiveAndEnded(t *testing.T) {
	h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
	ctx := context.Background()
	id := h.call("12345")
	h.waitState(id, StateTalking)

	rec, err := h.ctl.SetTicket(ctx, id, Platform12345, "GD-2026-000777")
	if err != nil || rec.Ticket12345 != "GD-2026-000777" {
		t.Fatalf("live SetTicket = %+v, %v", rec.Ticket12345, err)
	}
	if _, err := h.ctl.SetTicket(ctx, id, Platform12345, "GD-2026-000777"); err != nil {
		t.Fatalf("same ticket again: %v", err)
	}
	if _, err := h.ctl.SetTicket(ctx, id, Platform12345, "GD-OTHER"); !errors.Is(err, ErrTicketConflict) {
		t.Fatalf("different ticket: err %v, want ErrTicketConflict", err)
	}
	if got := h.rec(id).Ticket12345; got != "GD-2026-000777" {
		t.Fatalf("record ticket %q after refused change", got)
	}

	ended := h.callerHangsUpAndAllIsClean(id, "cit-12345")
	rec, err = h.ctl.SetTicket(ctx, id, Platform110, "JD-2026-000042")
	if err != nil || rec.Ticket110 != "JD-2026-000042" || rec.Ticket12345 != "GD-2026-000777" {
		t.Fatalf("ended SetTicket = %+v, %v", rec, err)
	}
	if rec.Version <= ended.Version || rec.State != StateEnded.String() {
		t.Fatalf("ended record version %d (was %d), state %s", rec.Version, ended.Version, rec.State)
	}
	eventually(t, "sink got the updated ended record", func() bool {
		h.sink.mu.Lock()
		defer h.sink.mu.Unlock()
		last := h.sink.recs[len(h.sink.recs)-1]
		return last.ID == id && last.Ticket110 == "JD-2026-000042" && last.Version == rec.Version
	})
}

func TestSetTicketRefusesBadInput(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		platform Platform
		ticket   string
		want     error
	}{
		{"empty", Platform110, "", ErrBadTicket},
		{"header injection", Platform110, "JD-1\r\nX-Evil: 1", ErrBadTicket},
		{"space", Platform110, "JD 1", ErrBadTicket},
		{"too long", Platform110, string(make([]byte, 65)), ErrBadTicket},
		{"unknown platform", Platform("119"), "X-1", ErrBadTicket},
		{"unknown call", Platform110, "JD-1", ErrCallNotFound},
	} {
		if _, err := h.ctl.SetTicket(ctx, "no-such-call", tt.platform, tt.ticket); !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}
