package callflow

import (
	"testing"
)

// A call hung up by the switch while linkctl stops is recorded as the
// shutdown's, not the citizen's; one that ended before, or without a stop,
// keeps its true cause.
func TestDrainingEndCause(t *testing.T) {
	tests := []struct {
		name string
		// drain: the Draining reason ("" = never called); before: called before the hang-up.
		drain  string
		before bool
		want   string
	}{
		{"no stop: the citizen hung up", "", false, "caller hung up"},
		{"drain timeout ends the call", "drain timeout", true, "linkctl shutting down (drain timeout)"},
		{"stop at once ends the call", "stopped at once", true, "linkctl shutting down (stopped at once)"},
		{"citizen hung up before the stop", "drain timeout", false, "caller hung up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]fbehave{ep1001: {kind: "answer"}}, nil)
			id := h.call("12345")
			if tt.drain != "" && tt.before {
				h.ctl.Draining(tt.drain)
			}
			r := h.callerHangsUpAndAllIsClean(id, "cit-12345")
			if tt.drain != "" && !tt.before {
				h.ctl.Draining(tt.drain)
				r = h.rec(id)
			}
			if r.EndCause != tt.want {
				t.Fatalf("end cause %q, want %q", r.EndCause, tt.want)
			}
			if r.Answered == nil {
				t.Errorf("record lost its answer time: %+v", r)
			}
		})
	}
}

func TestDrainMarkKeepsOtherCauses(t *testing.T) {
	var d drainMark
	r := "drain timeout"
	d.why.Store(&r)
	tests := []struct{ in, want string }{
		{"caller hung up", "linkctl shutting down (drain timeout)"},
		{"agent hung up", "linkctl shutting down (drain timeout)"},
		{"caller gone before answer", "linkctl shutting down (drain timeout)"},
		{EndCauseInterrupted, EndCauseInterrupted},
		{"recovered without citizen", "recovered without citizen"},
	}
	for _, tt := range tests {
		if got := d.endCause(tt.in); got != tt.want {
			t.Errorf("endCause(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
