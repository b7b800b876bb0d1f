package tech

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/sip/sipcause"
)

// closeGrace bounds how long Close waits for the BYEs, CANCELs and final
// responses of the calls it ends to be answered before the transport closes.
const closeGrace = 3 * time.Second

// endings counts the hang-ups in flight (a BYE or CANCEL waiting for its
// answer), so Shutdown can let them finish before the transport closes. Unlike
// a sync.WaitGroup it may be added to while someone waits.
type endings struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while n is 0
}

// goEnd runs f, a hang-up, on its own goroutine and counts it until it returns.
func (t *Tech) goEnd(f func()) {
	e := &t.ends
	e.mu.Lock()
	if e.n == 0 {
		e.idle = make(chan struct{})
	}
	e.n++
	e.mu.Unlock()
	go func() {
		defer func() {
			e.mu.Lock()
			e.n--
			if e.n == 0 {
				close(e.idle)
				e.idle = nil
			}
			e.mu.Unlock()
		}()
		f()
	}()
}

// wait returns once no hang-up is in flight, or ctx's error.
func (e *endings) wait(ctx context.Context) error {
	e.mu.Lock()
	idle, n := e.idle, e.n
	e.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d hang-up(s) still waiting for an answer: %w", n, ctx.Err())
	}
}

// endCtx is the context of a hang-up request (BYE, CANCEL): it lives through
// Close's grace and is cut when the transport closes.
func (t *Tech) endRequestCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.endCtx, d)
}

// Shutdown ends, with cause 16 (normal clearing), every call still live on the
// SIP side and waits, until ctx ends, for the far ends to answer: an answered
// call gets a BYE, an outgoing call that rang a CANCEL, an incoming call not
// yet answered a 503; each carries "Reason: Q.850;cause=16". The engine is told
// of each hang-up like of a remote one, so the applications see it. Hang-ups
// already in flight (the engine's own) are waited for too. New requests are
// refused from now on (a new INVITE gets 503; requests inside a dialog are still served). Close calls it; the embedded
// switch's drain normally leaves it nothing to end but the in-flight BYEs.
func (t *Tech) Shutdown(ctx context.Context) error {
	if t.cancel == nil {
		return nil
	}
	t.hmu.Lock()
	t.shuttingDown = true
	t.hmu.Unlock()
	t.callsMu.Lock()
	calls := make([]*call, 0, len(t.calls))
	for _, c := range t.calls {
		calls = append(calls, c)
	}
	t.callsMu.Unlock()
	ended := 0
	for _, c := range calls {
		if c.endForShutdown(sipcause.NormalClearing) {
			ended++
		}
	}
	err := t.ends.wait(ctx)
	t.log.Info("sip shutdown: live calls ended", zap.Int("dialogs_open", len(calls)), zap.Int("ended_here", ended), zap.Error(err))
	return err
}

// endForShutdown hangs up one call from our side because the technology is
// closing; false if the call was already ending.
func (c *call) endForShutdown(cause int) bool {
	from, ok := c.beginHangup(cause)
	if !ok {
		return false
	}
	c.log.Info("hangup by sip shutdown", zap.Int("cause", cause), zap.Stringer("state", from), zap.Stringer("dir", c.dir))
	// Early inbound calls get 503 with Retry-After: the caller may try again elsewhere.
	c.signalEnd(cause, from, 503, "Service Unavailable", retryAfterHeader(closeGrace))
	if ctl := c.ctl; ctl != nil {
		ctl.Hangup(cause)
	}
	return true
}

// retryAfterHeader is "Retry-After: N" in whole seconds (at least 1).
func retryAfterHeader(d time.Duration) sip.Header {
	s := int(d.Round(time.Second) / time.Second)
	if s < 1 {
		s = 1
	}
	return sip.NewHeader("Retry-After", fmt.Sprint(s))
}
