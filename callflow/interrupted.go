package callflow

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Calls cut off by a crash or a shutdown. A record saved before linkctl died may be
// left in progress (talking, transfer-ringing) with no outcome: nothing would ever
// end it, the ticket systems only get ended records, and the supervisor page would
// show it 进行中 forever. After the restart's recovery has adopted every call whose
// channels are still on the switch, each other unfinished record whose channels are
// gone is closed as "interrupted" and saved through the sink (so it is delivered).

// EndCauseInterrupted is the end cause of a record closed after a restart.
const EndCauseInterrupted = "linkctl restarted; the call's channels were gone from the switch"

// closeInterrupted closes the unfinished records of the history whose channels are
// gone. It runs in the dispatcher after recoverCalls until a sweep leaves nothing
// open behind (a record not adopted though a channel of it is up is left for the
// next connect's recovery). It returns how many such records it left open.
func (c *Controller) closeInterrupted(ctx context.Context) (int, error) {
	if c.history == nil {
		return 0, nil
	}
	sctx, cancel := context.WithTimeout(ctx, c.teardownTimeout()*2)
	defer cancel()
	recs, err := c.history.UnfinishedCalls(sctx)
	if err != nil {
		return 0, fmt.Errorf("list unfinished calls: %w", err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	chans, err := c.pbx.Channels(sctx)
	if err != nil {
		return 0, fmt.Errorf("list channels to close interrupted calls: %w", err)
	}
	live := make(map[string]bool, len(chans))
	for _, ch := range chans {
		live[ch.ID] = true
	}
	at := time.Now()
	closed, open := 0, 0
	for _, rec := range recs {
		c.mu.Lock()
		_, running := c.calls[rec.ID] // adopted after the restart, or started since
		_, known := c.records[rec.ID]
		c.mu.Unlock()
		if running || known {
			continue
		}
		if ch := rec.liveChannel(live); ch != "" {
			// Not adopted though a channel is there (its stamp unreadable?): leave it.
			c.log.Warn("unfinished call not adopted but a channel is still up; left open",
				zap.String("call_id", rec.ID), zap.String("channel_id", ch))
			open++
			continue
		}
		done := interrupted(rec, at)
		c.log.Info("closing a call cut off by the restart", zap.String("call_id", rec.ID), zap.String("state", rec.State),
			zap.Int64("version", done.Version), zap.String("ticket_id", rec.Ticket12345+rec.Ticket110))
		c.publish(done, true)
		closed++
	}
	if closed > 0 {
		c.log.Info("interrupted calls closed", zap.Int("count", closed))
	}
	return open, nil
}

// liveChannel returns a channel of the record that is still on the switch.
func (r CallRecord) liveChannel(live map[string]bool) string {
	for _, l := range r.Legs {
		if live[l.ChannelID] {
			return l.ChannelID
		}
	}
	return ""
}

// interrupted returns rec ended at at with outcome interrupted: its open legs
// hung up, its pending transfer interrupted, the version bumped.
func interrupted(rec CallRecord, at time.Time) CallRecord {
	rec.Legs = slices.Clone(rec.Legs)
	rec.Transfers = slices.Clone(rec.Transfers)
	rec.Softkeys = slices.Clone(rec.Softkeys)
	for i := range rec.Legs {
		if l := &rec.Legs[i]; l.HungUp == nil {
			l.HungUp = &at
			if l.CauseText == "" {
				l.CauseText = "gone while linkctl was down"
			}
		}
	}
	for i := range rec.Transfers {
		if t := &rec.Transfers[i]; t.Outcome == OutcomePending {
			t.Outcome, t.Completed = OutcomeInterrupted, &at
			t.Reason = "linkctl 重启时通话已中断，转接未完成"
		}
	}
	rec.State = StateEnded.String()
	rec.Ended = &at
	rec.EndCause = EndCauseInterrupted
	rec.Outcome = string(OutcomeInterrupted)
	rec.Version++
	return rec
}
