package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"go.uber.org/zap"

	"linkctl/ari/embedded"
	"linkctl/ari/engine"
	"linkctl/config"
	"linkctl/sip/sipcause"
	"linkctl/sip/tech"
)

// stopMode is what a stop signal asks of the calls on a switch this process owns:
// SIGTERM drains them, SIGINT ends them.
type stopMode int

const (
	stopDrain stopMode = iota + 1 // no new call; live calls go on until they end or shutdown.drain_timeout
	stopEnd                       // every call hung up now (cause 16)
)

func (m stopMode) String() string {
	switch m {
	case stopDrain:
		return "drain"
	case stopEnd:
		return "end"
	}
	return fmt.Sprintf("stopMode(%d)", int(m))
}

// modeFor maps the first stop signal to its mode.
func modeFor(sig os.Signal) stopMode {
	if sig == syscall.SIGTERM {
		return stopDrain
	}
	return stopEnd
}

// endNowOn returns a context cancelled when one more stop signal arrives on sigs
// (a second SIGTERM/SIGINT during the drain ends the calls at once).
func endNowOn(sigs <-chan os.Signal, log *zap.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		select {
		case sig := <-sigs:
			log.Warn("second stop signal: ending every call now", zap.Stringer("signal", sig))
			cancel(fmt.Errorf("second signal %s", sig))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// drainSwitch ends the calls of a switch this process owns, the way mode asks,
// while the ARI server is still up so the controller (in this process or not)
// sees every hang-up and closes its calls; then the SIP technology waits for its
// BYEs/CANCELs to be answered. Bounded by drain_timeout (drain only) + 2 x hangup_grace.
//
// beforeHangup, if not nil, is told why just before the switch hangs up the
// calls still up (see hangupReason); the embedded controller records it.
func drainSwitch(sw *embedded.Switch, sip *tech.Tech, sc config.ShutdownConfig, mode stopMode, sigs <-chan os.Signal, log *zap.Logger, beforeHangup func(reason string)) engine.DrainReport {
	timeout := sc.DrainTimeout.D()
	if mode == stopEnd {
		timeout = 0
	}
	ctx, cancel := endNowOn(sigs, log)
	defer cancel()
	rep := sw.Engine.Drain(ctx, engine.DrainOptions{Timeout: timeout, Grace: sc.HangupGrace.D(),
		Cause: sipcause.NormalClearing, RetryAfter: sc.RetryAfter.D(),
		BeforeHangup: func(endedBy string) {
			if beforeHangup != nil {
				beforeHangup(hangupReason(mode, endedBy))
			}
		}})
	if sip != nil {
		sctx, scancel := context.WithTimeout(context.Background(), sc.HangupGrace.D())
		if err := sip.Shutdown(sctx); err != nil {
			log.Warn("sip hang-ups not all answered before the transport closes", zap.Error(err))
		}
		scancel()
	}
	return rep
}

// hangupReason says in words why the drain hangs up the calls still up, for
// the call records: "drain timeout", "second stop signal" or "stopped at once".
func hangupReason(mode stopMode, endedBy string) string {
	switch {
	case mode == stopEnd:
		return "stopped at once"
	case endedBy == "timeout":
		return "drain timeout"
	default:
		return "second stop signal"
	}
}

// waitControllerIdle waits, at most within, until the controller has closed
// every call (its records are then in the store's hands).
func waitControllerIdle(live func() int, within time.Duration) int {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := live()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		<-tick.C
	}
}
