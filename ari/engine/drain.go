package engine

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"linkctl/sip/sipcause"
)

// Phase is where the switch is in its life: serving, draining (no new inbound
// call, live calls go on), or ending (every channel is being hung up).
type Phase int

const (
	PhaseServing  Phase = iota // taking calls
	PhaseDraining              // new inbound calls refused (SIP 503 + Retry-After); live calls go on
	PhaseEnding                // every remaining channel hung up with the drain cause
)

func (p Phase) String() string {
	switch p {
	case PhaseServing:
		return "serving"
	case PhaseDraining:
		return "draining"
	case PhaseEnding:
		return "ending"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// DrainOptions say how Drain ends the switch's calls.
type DrainOptions struct {
	// Timeout is how long live calls may go on before they are hung up (0: at once).
	Timeout time.Duration
	// Grace bounds the wait for the hung-up channels to be gone (default 5s).
	Grace time.Duration
	// Cause is the Q.850 cause of the hang-up (default 16, normal clearing).
	Cause int
	// RetryAfter is what a refused inbound call is told to wait (SIP Retry-After).
	RetryAfter time.Duration
	// BeforeHangup, if set, runs just before the drain hangs up the calls
	// still up, with the report's EndedBy ("timeout" or "end now"), so the
	// application can record those hang-ups as the shutdown's (linkctl's
	// embedded controller; Asterisk has no such hook).
	BeforeHangup func(endedBy string)
}

// DrainReport is what Drain did.
type DrainReport struct {
	AtStart int           // channels up when the drain began
	HungUp  int           // channels the drain hung up (0: all ended on their own)
	Left    int           // channels still present when Drain returned (should be 0)
	EndedBy string        // "idle", "timeout" or "end now" (ctx ended first)
	Took    time.Duration // from the start of the drain to the return
}

// StartDrain stops the switch taking new inbound calls: from now on Inbound
// answers a RejectError with cause 42 (SIP 503) and retryAfter. Live calls and
// the applications' own originates (a transfer of a live call) go on. It
// reports false if the switch was already draining or ending.
func (e *Engine) StartDrain(retryAfter time.Duration) bool {
	e.mu.Lock()
	defer e.unlock()
	if e.phase != PhaseServing {
		return false
	}
	e.phase = PhaseDraining
	e.retryAfter = retryAfter
	e.log.Info("switch draining: new inbound calls refused", zap.Int("live_channels", len(e.channels)),
		zap.Duration("retry_after", retryAfter))
	return true
}

// Phase reports whether the switch is serving, draining or ending.
func (e *Engine) Phase() Phase {
	e.mu.Lock()
	defer e.unlock()
	return e.phase
}

// LiveChannels is the number of channels that exist now.
func (e *Engine) LiveChannels() int {
	e.mu.Lock()
	defer e.unlock()
	return len(e.channels)
}

// HangupAll hangs up every channel through its technology with cause, as a
// DELETE /channels/{id} would: the applications get the usual events and SIP
// peers a BYE, CANCEL or final response with "Reason: Q.850;cause=N". It moves
// the switch to PhaseEnding (no new inbound call) and reports how many it hung up.
func (e *Engine) HangupAll(cause int) int {
	if cause <= 0 {
		cause = sipcause.NormalClearing
	}
	e.mu.Lock()
	defer e.unlock()
	e.phase = PhaseEnding
	list := make([]*Channel, 0, len(e.channels))
	for _, ch := range e.channels {
		list = append(list, ch)
	}
	sortChannels(list)
	n := 0
	for _, ch := range list {
		if ch.gone {
			continue // gone with an earlier one
		}
		ch.log.Info("hangup by shutdown", zap.Int("cause", cause))
		e.hangupLocked(ch, cause, true)
		n++
	}
	return n
}

// WaitIdle returns nil once no channel exists, or ctx's error.
func (e *Engine) WaitIdle(ctx context.Context) error {
	e.mu.Lock()
	if len(e.channels) == 0 {
		e.unlock()
		return nil
	}
	w := make(chan struct{})
	e.idleWaiters = append(e.idleWaiters, w)
	e.unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the switch's channels to end: %w", context.Cause(ctx))
	}
}

// wakeIdleLocked releases WaitIdle callers once the last channel is gone.
func (e *Engine) wakeIdleLocked() {
	if len(e.channels) != 0 {
		return
	}
	for _, w := range e.idleWaiters {
		close(w)
	}
	e.idleWaiters = nil
}

// Drain is the shutdown of a switch that dies with its process: it refuses new
// inbound calls, lets live calls go on until they have all ended or o.Timeout
// has passed or ctx ends (a second signal: end now), then hangs up every
// remaining channel with o.Cause and waits, at most o.Grace, for them to be
// gone. The ARI server must still be running, so the applications see the
// hang-ups and close their calls. Drain is bounded by o.Timeout + o.Grace.
func (e *Engine) Drain(ctx context.Context, o DrainOptions) DrainReport {
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	start := time.Now()
	e.StartDrain(o.RetryAfter)
	rep := DrainReport{AtStart: e.LiveChannels(), EndedBy: "idle"}

	wctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errDrainTimeout)
	err := e.WaitIdle(wctx)
	cancel()
	if err != nil {
		rep.EndedBy = "timeout"
		if ctx.Err() != nil || o.Timeout <= 0 {
			rep.EndedBy = "end now"
		}
		if o.BeforeHangup != nil {
			o.BeforeHangup(rep.EndedBy)
		}
		rep.HungUp = e.HangupAll(o.Cause)
		e.log.Info("switch ending the calls still up", zap.Int("channels", rep.HungUp), zap.String("why", rep.EndedBy),
			zap.Int("cause", o.Cause))
		gctx, gcancel := context.WithTimeout(context.WithoutCancel(ctx), o.Grace)
		if err := e.WaitIdle(gctx); err != nil {
			e.log.Warn("channels still present after the hang-up grace", zap.Duration("grace", o.Grace), zap.Error(err))
		}
		gcancel()
	} else {
		e.HangupAll(o.Cause) // nothing left; just moves to PhaseEnding
	}
	rep.Left = e.LiveChannels()
	rep.Took = time.Since(start)
	e.log.Info("switch drained", zap.Int("at_start", rep.AtStart), zap.Int("hung_up", rep.HungUp),
		zap.Int("left", rep.Left), zap.String("ended_by", rep.EndedBy), zap.Duration("took", rep.Took))
	return rep
}

var errDrainTimeout = fmt.Errorf("drain timeout")
