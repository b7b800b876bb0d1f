package callflow

import (
	"fmt"
	"io"
	"time"
)

// WriteTimeline prints a call record as a leg timeline (times relative to the
// call's start): the demo and `linkctl calls show` use it.
func WriteTimeline(w io.Writer, r CallRecord) {
	t0 := r.Started
	at := func(t *time.Time) string {
		if t == nil {
			return "      -"
		}
		return fmt.Sprintf("%6.2fs", t.Sub(t0).Seconds())
	}
	fmt.Fprintf(w, "  call %s first=%s owner=%s state=%s outcome=%s\n", r.ID, r.FirstPlatform, r.OwnerPlatform, r.State, r.Outcome)
	fmt.Fprintf(w, "    %-12s %-22s %7s %7s %7s %7s %7s  cause\n", "role", "endpoint", "created", "answer", "bridged", "left", "hungup")
	for _, l := range r.Legs {
		created := l.Created
		fmt.Fprintf(w, "    %-12s %-22s %7s %7s %7s %7s %7s  %d %s\n", l.Role, l.Endpoint, at(&created), at(l.Answered), at(l.Bridged), at(l.Left), at(l.HungUp), l.Cause, l.CauseText)
	}
	for _, k := range r.Softkeys {
		t := k.At
		fmt.Fprintf(w, "    softkey %-12s by %-12s via %-5s at %s accepted=%v %s\n", k.Key, k.Agent, k.Source, at(&t), k.Accepted, k.Reason)
	}
	for _, t := range r.Transfers {
		req := t.Requested
		fmt.Fprintf(w, "    transfer %s %s %s category=%q requested=%s answered=%s completed=%s outcome=%s %s\n",
			t.Mode, t.Direction, t.ToAgent, t.Category, at(&req), at(t.Answered), at(t.Completed), t.Outcome, t.Reason)
	}
}
