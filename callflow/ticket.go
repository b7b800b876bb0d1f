package callflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
)

// Ticket linkage: a call record carries the ticket ids of both platforms (12345 工单号,
// 110 警单号). They arrive with a softkey request or in the inbound X-Linkage-* headers,
// or are assigned here when a platform creates its own ticket for the call — during the
// call or after it ended (the record is then saved again as a new version, and the store
// delivers the update to the ticket systems).

// ErrTicketConflict is returned when a platform's ticket is already set to another id.
var ErrTicketConflict = errors.New("call already has another ticket for this platform")

// ErrBadTicket is returned for a ticket id that cannot travel in a SIP header.
var ErrBadTicket = errors.New("invalid ticket id")

// maxTicketLen bounds a ticket id: it travels in SIP headers and User-to-User.
const maxTicketLen = 64

// errCallEnding: the call ended before its goroutine took the ticket.
var errCallEnding = errors.New("call ending")

type ticketMsg struct {
	platform Platform
	ticket   string
	reply    chan ticketReply
}

type ticketReply struct {
	rec CallRecord
	err error
}

// ValidTicket checks a ticket id: 1..64 printable characters, no spaces or control
// characters (it is written into SIP headers).
func ValidTicket(t string) error {
	if t == "" || len(t) > maxTicketLen || !utf8.ValidString(t) {
		return fmt.Errorf("%w: want 1..%d characters of valid UTF-8", ErrBadTicket, maxTicketLen)
	}
	if strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("%w: %q contains a space or control character", ErrBadTicket, t)
	}
	return nil
}

// SetTicket assigns platform's ticket id to a call, live or ended. Setting the same
// id again is a no-op; a different id than the one already set is refused.
func (c *Controller) SetTicket(ctx context.Context, callID string, platform Platform, ticket string) (CallRecord, error) {
	if platform != Platform12345 && platform != Platform110 {
		return CallRecord{}, fmt.Errorf("set ticket on call %s: %w: platform %q (want 12345 or 110)", callID, ErrBadTicket, platform)
	}
	if err := ValidTicket(ticket); err != nil {
		return CallRecord{}, fmt.Errorf("set ticket on call %s: %w", callID, err)
	}
	c.mu.Lock()
	cl := c.calls[callID]
	c.mu.Unlock()
	if cl != nil {
		reply := make(chan ticketReply, 1)
		cl.box.put(ticketMsg{platform: platform, ticket: ticket, reply: reply})
		select {
		case r := <-reply:
			if !errors.Is(r.err, errCallEnding) {
				return r.rec, r.err
			}
		case <-cl.ctx.Done():
			select {
			case r := <-reply:
				if !errors.Is(r.err, errCallEnding) {
					return r.rec, r.err
				}
			default:
			}
			// Ended meanwhile: fall through to the ended path.
		case <-ctx.Done():
			return CallRecord{}, fmt.Errorf("set ticket on call %s: %w", callID, ctx.Err())
		}
	}
	return c.setEndedTicket(ctx, callID, platform, ticket)
}

// setEndedTicket updates an ended call's record and saves it as a new version.
func (c *Controller) setEndedTicket(ctx context.Context, callID string, platform Platform, ticket string) (CallRecord, error) {
	c.mu.Lock()
	rec, ok := c.records[callID]
	c.mu.Unlock()
	if !ok && c.history != nil {
		r, err := c.history.GetCall(ctx, callID)
		if err == nil {
			rec, ok = r, true
		}
	}
	if !ok {
		return CallRecord{}, fmt.Errorf("set ticket on call %s: %w", callID, ErrCallNotFound)
	}
	if rec.Ended == nil {
		// A live call not (or no longer) owned by this controller, e.g. during recovery.
		return CallRecord{}, fmt.Errorf("set ticket on call %s: %w (the call is still being taken over, try again)", callID, ErrCallNotFound)
	}
	changed, err := applyTicket(&rec, platform, ticket)
	if err != nil || !changed {
		return rec, err
	}
	c.mu.Lock()
	if cur, ok := c.records[callID]; ok && cur.Version >= rec.Version {
		rec.Version = cur.Version
	}
	rec.Version++
	c.mu.Unlock()
	c.publish(rec, false)
	c.log.Info("ticket assigned to ended call", zap.String("call_id", callID), zap.String("platform", string(platform)), zap.String("ticket_id", ticket))
	return rec, nil
}

// applyTicket sets platform's ticket on rec; it reports whether anything changed.
func applyTicket(rec *CallRecord, platform Platform, ticket string) (bool, error) {
	field := &rec.Ticket12345
	if platform == Platform110 {
		field = &rec.Ticket110
	}
	switch *field {
	case ticket:
		return false, nil
	case "":
		*field = ticket
		return true, nil
	}
	return false, fmt.Errorf("set %s ticket %q on call %s: %w (it is %q)", platform, ticket, rec.ID, ErrTicketConflict, *field)
}

// setTicket runs in the call's goroutine.
func (cl *call) setTicket(m ticketMsg) {
	changed, err := applyTicket(&cl.rec, m.platform, m.ticket)
	if changed {
		cl.dirty = true
		cl.flush()
		cl.log.Info("ticket assigned", zap.String("platform", string(m.platform)), zap.String("ticket_id", m.ticket))
	}
	m.reply <- ticketReply{rec: cl.snapshot(), err: err}
}
