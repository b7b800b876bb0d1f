package scenario

import (
	"context"
	"fmt"
	"sync"
	"time"

	"linkctl/callflow"
)

// Checks collects what a running scenario found: failed checks and notes for the demo
// output. The Sim scenarios here and the SIP scenarios (sip/sipdemo) both embed it.
// Safe for concurrent use (phones report from their own goroutines).
type Checks struct {
	mu       sync.Mutex
	failures []string
	notes    []string
}

// stopScenario aborts a scenario after a fatal check; Guard recovers it.
type stopScenario struct{}

// Errorf records a failed check.
func (c *Checks) Errorf(format string, a ...any) {
	c.mu.Lock()
	c.failures = append(c.failures, fmt.Sprintf(format, a...))
	c.mu.Unlock()
}

// Fatalf records a failed check and ends the scenario (inside Guard).
func (c *Checks) Fatalf(format string, a ...any) {
	c.Errorf(format, a...)
	panic(stopScenario{})
}

// Notef records an observation for the demo output.
func (c *Checks) Notef(format string, a ...any) {
	c.mu.Lock()
	c.notes = append(c.notes, fmt.Sprintf(format, a...))
	c.mu.Unlock()
}

// Guard runs a scenario body: a Fatalf ends it quietly, any other panic is a failure.
func (c *Checks) Guard(body func()) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopScenario); !ok {
				c.Errorf("panic: %v", r)
			}
		}
	}()
	body()
}

// Failed reports whether any check failed so far.
func (c *Checks) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.failures) > 0
}

// Result returns what was found as a Result (records and timing filled by the caller).
func (c *Checks) Result(name string) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Result{Name: name, Pass: len(c.failures) == 0, Failures: append([]string(nil), c.failures...), Notes: append([]string(nil), c.notes...)}
}

// SwitchIsEmpty checks through ARI that no channel or bridge is left on the switch.
func (c *Checks) SwitchIsEmpty(pbx callflow.PBX) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		chans, err1 := pbx.Channels(ctx)
		bridges, err2 := pbx.Bridges(ctx)
		cancel()
		if err1 == nil && err2 == nil && len(chans) == 0 && len(bridges) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.Errorf("left on the switch: %d channels %v, %d bridges (errors %v %v)", len(chans), chans, len(bridges), err1, err2)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RecordComplete checks an ended call's record: every leg hung up with a cause, and
// the call's answered and ended times set.
func (c *Checks) RecordComplete(r callflow.CallRecord) {
	for _, l := range r.Legs {
		if l.HungUp == nil {
			c.Errorf("leg %s (%s) has no hangup time", l.ChannelID, l.Role)
		}
		if l.Cause == 0 {
			c.Errorf("leg %s (%s) ended without a cause", l.ChannelID, l.Role)
		}
	}
	if r.Ended == nil || r.Answered == nil {
		c.Errorf("record lacks answered/ended times")
	}
}
