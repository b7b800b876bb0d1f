package callflow

import (
	"fmt"
	"sync/atomic"

	"go.uber.org/zap"
)

// EndCauseShutdownPrefix starts the end cause of a call that ended because
// linkctl was stopping and its embedded switch hung the call up, e.g.
// "linkctl shutting down (drain timeout)".
const EndCauseShutdownPrefix = "linkctl shutting down"

// hangupEndCauses are the end causes a channel hang-up gives a call; while
// linkctl stops they are the switch's doing, not the citizen's or the agent's.
var hangupEndCauses = map[string]bool{
	"caller hung up":            true,
	"agent hung up":             true,
	"caller gone before answer": true,
}

// drainMark remembers that the process is ending every call (Draining).
type drainMark struct {
	why atomic.Pointer[string]
}

// endCause is why a call ending now is recorded as ending: a hang-up seen
// after Draining is the shutdown's, anything else keeps its own cause.
func (d *drainMark) endCause(why string) string {
	reason := d.why.Load()
	if reason == nil || !hangupEndCauses[why] {
		return why
	}
	return fmt.Sprintf("%s (%s)", EndCauseShutdownPrefix, *reason)
}

// Draining tells the controller that linkctl is about to hang up every call
// still up on its embedded switch because the process stops; reason says
// what ended them (e.g. "drain timeout", "second signal", "stopped at once").
// From then on a call ending through a channel hang-up is recorded with end
// cause "linkctl shutting down (reason)" instead of "caller hung up". Call it
// just before the switch hangs the calls up, not when a drain starts: calls
// that end on their own during a drain keep their true cause. Only the first
// call's reason counts. Safe for concurrent use.
func (c *Controller) Draining(reason string) {
	if reason == "" {
		reason = "stopping"
	}
	if c.drain.why.CompareAndSwap(nil, &reason) {
		c.log.Info("linkctl ending every call; hang-ups from now on are recorded as the shutdown's",
			zap.String("reason", reason), zap.Int("live_calls", c.LiveCalls()))
	}
}
