package tech

import (
	"time"

	"github.com/emiago/sipgo/sip"

	"linkctl/sip/sipcause"
)

// signalEnd does the SIP side of ending a call from our side once beginHangup
// has claimed it (from is the state it left): an inbound call not yet up gets
// the final response status/phrase (with Reason and extra headers); an
// outbound one not yet up is CANCELled if a provisional response allows it
// (otherwise the INVITE's first 1xx or its timeout ends it); an established
// call gets BYE. Hangup and endForShutdown differ only in the final response.
func (c *call) signalEnd(cause int, from callState, status int, phrase string, extra ...sip.Header) {
	t := c.t
	switch {
	case c.dir == inbound && from < stateUp:
		hdrs := append([]sip.Header{sip.NewHeader("Reason", sipcause.ReasonHeader(cause))}, extra...)
		t.respond(c.inviteTx, c.uas.InviteRequest, status, phrase, hdrs...)
		c.release()
	case c.dir == outbound && from < stateUp:
		c.mu.Lock()
		canCancel := c.provisional
		c.mu.Unlock()
		if canCancel {
			t.goEnd(func() { c.sendCancel(cause) })
		}
		// RFC 3261 forbids CANCEL before a provisional response: the INVITE
		// runs to its final response or timer B (trace t06), or its first 1xx
		// sends the CANCEL (runOutbound), then we clean up.
	default:
		t.goEnd(func() {
			c.flushWork(flushBeforeBye)
			c.sendBye(cause)
			c.release()
		})
	}
}

// flushBeforeBye bounds how long a BYE waits for the in-dialog requests
// queued before it.
const flushBeforeBye = 2 * time.Second

// flushWork waits (at most d) until the in-dialog requests queued so far
// (NOTIFY sipfrag, INFO digits) went out, so a BYE never overtakes them:
// Asterisk sends a REFER's final NOTIFY before the BYE that releases the
// transferring phone, whose dialog (and subscription) ends with that BYE.
func (c *call) flushWork(d time.Duration) {
	done := make(chan struct{})
	c.mu.Lock()
	start := c.enqueueLocked(func() { close(done) })
	c.mu.Unlock()
	if start {
		go c.runWork()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
