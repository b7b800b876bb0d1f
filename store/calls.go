package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
)

// CallFilter selects call records; zero fields match everything. From/To bound
// the start time; Platform matches calls that touched that platform; Ticket
// matches either side's ticket; Category matches "大类/小类" or a whole 大类.
type CallFilter struct {
	From, To                                   time.Time
	Platform, Agent, Ticket, Outcome, Category string
	Limit                                      int
}

// writeBatch is how many buffered records one transaction writes at most.
const writeBatch = 256

var _ callflow.RecordSink = (*Store)(nil)

// SaveCall accepts a version of a call record. It never waits for the
// database: the record is buffered (newest version per call) and written by
// the writer goroutine, which retries while the database fails. It returns
// ErrQueueFull only when that buffer overflows during a long outage.
func (s *Store) SaveCall(rec callflow.CallRecord) error {
	if rec.ID == "" {
		return &FieldError{Field: "id", Msg: errNoID.Error()}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if prev, ok := s.pending[rec.ID]; ok {
		if prev.rec.Version > rec.Version {
			s.mu.Unlock()
			return nil // an older version arrived late; the newer one is queued
		}
	} else if _, writing := s.inflight[rec.ID]; !writing && len(s.pending)+len(s.inflight) >= s.cfg.WriteQueue {
		n := s.dropped.Add(1)
		s.mu.Unlock()
		if n == 1 || n%100 == 0 { // loud, but not one line per record of a long outage
			s.log.Error("call record dropped: write buffer full", zap.String("call_id", rec.ID),
				zap.Int64("version", rec.Version), zap.Int64("dropped", n))
		}
		return fmt.Errorf("save call %s v%d: %w", rec.ID, rec.Version, ErrQueueFull)
	}
	s.bufSeq++
	s.pending[rec.ID] = buffered{rec: rec, seq: s.bufSeq}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.publish(rec)
	return nil
}

func (s *Store) writeLoop() {
	defer s.wg.Done()
	backoff := s.cfg.RetryMin.D()
	for {
		select {
		case <-s.ctx.Done():
			// Final flush on Close, bounded in time.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
			for s.flushOnce(ctx) > 0 && ctx.Err() == nil {
			}
			cancel()
			return
		case <-s.wake:
		}
		for {
			n := s.flushOnce(s.ctx)
			if n == 0 {
				backoff = s.cfg.RetryMin.D()
				break
			}
			if n < 0 {
				if !sleepCtx(s.ctx, backoff) {
					break
				}
				backoff = min(backoff*2, s.cfg.RetryMax.D())
			}
		}
	}
}

// flushOnce writes up to writeBatch buffered records in one transaction. It
// returns how many were written, 0 when nothing was pending, -1 on failure
// (the records go back into the buffer unless a newer version arrived).
func (s *Store) flushOnce(ctx context.Context) int {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return 0
	}
	// Oldest first, so that ticket systems get finished calls in the order they ended.
	all := make([]buffered, 0, len(s.pending))
	for _, b := range s.pending {
		all = append(all, b)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	if len(all) > writeBatch {
		all = all[:writeBatch]
	}
	batch := make([]callflow.CallRecord, len(all))
	for i, b := range all {
		batch[i] = b.rec
		delete(s.pending, b.rec.ID)
	}
	s.inflight = make(map[string]callflow.CallRecord, len(batch))
	for _, rec := range batch {
		s.inflight[rec.ID] = rec
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight = nil
		close(s.flushed) // wake Flush waiters
		s.flushed = make(chan struct{})
		s.mu.Unlock()
	}()
	queued := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		queued = 0
		for _, rec := range batch {
			n, err := s.writeCall(ctx, tx, rec)
			if err != nil {
				return err
			}
			queued += n
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		for _, b := range all {
			if cur, ok := s.pending[b.rec.ID]; !ok || cur.rec.Version < b.rec.Version {
				s.pending[b.rec.ID] = b
			}
		}
		n := len(s.pending)
		s.mu.Unlock()
		if s.ctx.Err() == nil || ctx != s.ctx { // a write cut short by Close is not a fault
			s.setFault(err, n)
		}
		return -1
	}
	s.clearFault()
	if queued > 0 {
		s.kickOutbox()
	}
	return len(batch)
}

// writeCall upserts one record unless the database holds a newer version, and
// queues finished records for the ticket systems. It returns the number of
// deliveries queued.
func (s *Store) writeCall(ctx context.Context, tx *sql.Tx, rec callflow.CallRecord) (int, error) {
	var cur int64
	err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT version FROM calls WHERE id = ?`), rec.ID).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, fmt.Errorf("read call %s: %w", rec.ID, err)
	case cur > rec.Version:
		return 0, nil
	}
	doc, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode call %s: %w", rec.ID, err)
	}
	var ended any
	if rec.Ended != nil {
		ended = rec.Ended.UnixMilli()
	}
	_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO calls
		(id, version, started_ms, ended_ms, first_platform, owner_platform, ticket_12345, ticket_110,
		 category, outcome, agents, platforms, restricted, doc, updated_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version, started_ms = excluded.started_ms,
		 ended_ms = excluded.ended_ms, first_platform = excluded.first_platform,
		 owner_platform = excluded.owner_platform, ticket_12345 = excluded.ticket_12345,
		 ticket_110 = excluded.ticket_110, category = excluded.category, outcome = excluded.outcome,
		 agents = excluded.agents, platforms = excluded.platforms, restricted = excluded.restricted,
		 doc = excluded.doc, updated_ms = excluded.updated_ms`),
		rec.ID, rec.Version, rec.Started.UnixMilli(), ended, string(rec.FirstPlatform), string(rec.OwnerPlatform),
		rec.Ticket12345, rec.Ticket110, recordCategory(rec), recordOutcome(rec), recordAgents(rec), recordPlatforms(rec),
		boolInt(s.policy.RecordRestricted(rec)), string(doc), s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("write call %s v%d: %w", rec.ID, rec.Version, err)
	}
	if rec.Ended == nil {
		return 0, nil
	}
	return s.enqueueCall(ctx, tx, rec)
}

// recordCategory is the call's category, or else that of its last transfer.
func recordCategory(rec callflow.CallRecord) string {
	if rec.Category != "" {
		return rec.Category
	}
	for i := len(rec.Transfers) - 1; i >= 0; i-- {
		if rec.Transfers[i].Category != "" {
			return rec.Transfers[i].Category
		}
	}
	return ""
}

// recordOutcome is the call's outcome, or else that of its last transfer.
func recordOutcome(rec callflow.CallRecord) string {
	if rec.Outcome != "" {
		return rec.Outcome
	}
	if n := len(rec.Transfers); n > 0 {
		return string(rec.Transfers[n-1].Outcome)
	}
	return ""
}

// recordAgents is ",a,b," of every agent on the call, for the Agent filter.
func recordAgents(rec callflow.CallRecord) string {
	set := map[string]bool{}
	for _, l := range rec.Legs {
		set[l.Agent] = true
	}
	for _, t := range rec.Transfers {
		set[t.FromAgent], set[t.ToAgent] = true, true
	}
	for _, k := range rec.Softkeys {
		set[k.Agent] = true
	}
	return joinSet(set)
}

// recordPlatforms is ",12345,110," of every platform the call touched.
func recordPlatforms(rec callflow.CallRecord) string {
	set := map[string]bool{string(rec.FirstPlatform): true, string(rec.OwnerPlatform): true}
	for _, l := range rec.Legs {
		switch l.Role {
		case callflow.RoleAgent12345:
			set[string(callflow.Platform12345)] = true
		case callflow.RoleAgent110:
			set[string(callflow.Platform110)] = true
		}
	}
	if len(rec.Transfers) > 0 { // a hand-off attempt involves both platforms
		set[string(callflow.Platform12345)], set[string(callflow.Platform110)] = true, true
	}
	return joinSet(set)
}

func joinSet(set map[string]bool) string {
	var out []string
	for k := range set {
		if k != "" {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return "," + strings.Join(out, ",") + ","
}

// Flush waits until every record accepted so far is in the database, or ctx
// ends (then it returns the writer's current fault, if any).
func (s *Store) Flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		n := len(s.pending) + len(s.inflight)
		flushed := s.flushed
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.faultMu.Lock()
			ferr := s.faultErr
			s.faultMu.Unlock()
			if ferr != nil {
				return fmt.Errorf("flush: %d records unwritten: %w", n, ferr)
			}
			return fmt.Errorf("flush: %d records unwritten: %w", n, ctx.Err())
		case <-flushed:
		}
	}
}

// GetCall returns the newest version of a call record (including one still
// waiting in the write buffer) or ErrNotFound.
func (s *Store) GetCall(ctx context.Context, id string) (callflow.CallRecord, error) {
	s.mu.Lock()
	buf, inBuf := s.pending[id]
	buffered := buf.rec
	if fl, ok := s.inflight[id]; ok && (!inBuf || fl.Version > buffered.Version) {
		buffered, inBuf = fl, true
	}
	s.mu.Unlock()
	var doc string
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT doc FROM calls WHERE id = ?`), id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) || (err != nil && inBuf) {
		if inBuf {
			return buffered, nil
		}
		return callflow.CallRecord{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return callflow.CallRecord{}, fmt.Errorf("read call %s: %w", id, err)
	}
	var rec callflow.CallRecord
	if err := json.Unmarshal([]byte(doc), &rec); err != nil {
		return callflow.CallRecord{}, fmt.Errorf("decode call %s: %w", id, err)
	}
	if inBuf && buffered.Version > rec.Version {
		return buffered, nil
	}
	return rec, nil
}

// ListCalls returns call records matching f, newest first (default limit 100, at most 1000).
func (s *Store) ListCalls(ctx context.Context, f CallFilter) ([]callflow.CallRecord, error) {
	var (
		where []string
		args  []any
	)
	if !f.From.IsZero() {
		where, args = append(where, "started_ms >= ?"), append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where, args = append(where, "started_ms < ?"), append(args, f.To.UnixMilli())
	}
	if f.Platform != "" {
		where, args = append(where, `platforms LIKE ? ESCAPE '\'`), append(args, "%,"+likeEscape(f.Platform)+",%")
	}
	if f.Agent != "" {
		where, args = append(where, `agents LIKE ? ESCAPE '\'`), append(args, "%,"+likeEscape(f.Agent)+",%")
	}
	if f.Ticket != "" {
		where, args = append(where, "(ticket_12345 = ? OR ticket_110 = ?)"), append(args, f.Ticket, f.Ticket)
	}
	if f.Outcome != "" {
		where, args = append(where, "outcome = ?"), append(args, f.Outcome)
	}
	if f.Category != "" {
		where, args = append(where, `(category = ? OR category LIKE ? ESCAPE '\')`), append(args, f.Category, likeEscape(f.Category)+"/%")
	}
	q := `SELECT doc FROM calls`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_ms DESC, id DESC LIMIT ?"
	args = append(args, clampLimit(f.Limit))
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	defer rows.Close()
	out := []callflow.CallRecord{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list calls: %w", err)
		}
		var rec callflow.CallRecord
		if err := json.Unmarshal([]byte(doc), &rec); err != nil {
			return nil, fmt.Errorf("decode call: %w", err)
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Subscribe returns every call-record version SaveCall accepts from now on,
// for live views (SSE). A reader that falls 64 records behind misses records
// rather than slowing the writers. cancel ends the subscription; Close ends all.
func (s *Store) Subscribe() (<-chan callflow.CallRecord, func()) {
	ch := make(chan callflow.CallRecord, 64)
	s.subMu.Lock()
	if s.subs == nil { // closed
		close(ch)
		s.subMu.Unlock()
		return ch, func() {}
	}
	s.subSeq++
	id := s.subSeq
	s.subs[id] = ch
	s.subMu.Unlock()
	return ch, func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		if c, ok := s.subs[id]; ok {
			delete(s.subs, id)
			close(c)
		}
	}
}

func (s *Store) publish(rec callflow.CallRecord) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- rec:
		default: // slow reader: drop, never block the controller
		}
	}
}

// UnfinishedCalls returns every call record whose newest version has not ended,
// oldest first, the write buffer included. After a restart the controller closes
// those whose channels are gone from the switch (outcome "interrupted"), so that no
// record stays in progress forever and each one reaches the ticket systems.
func (s *Store) UnfinishedCalls(ctx context.Context) ([]callflow.CallRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT doc FROM calls WHERE ended_ms IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished calls: %w", err)
	}
	newest := map[string]callflow.CallRecord{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list unfinished calls: %w", err)
		}
		var rec callflow.CallRecord
		if err := json.Unmarshal([]byte(doc), &rec); err != nil {
			rows.Close()
			return nil, fmt.Errorf("decode unfinished call: %w", err)
		}
		newest[rec.ID] = rec
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list unfinished calls: %w", err)
	}
	// Versions not yet written win over the database's when newer.
	s.mu.Lock()
	var buffered []callflow.CallRecord
	for _, b := range s.pending {
		buffered = append(buffered, b.rec)
	}
	for _, rec := range s.inflight {
		buffered = append(buffered, rec)
	}
	s.mu.Unlock()
	for _, rec := range buffered {
		cur, ok := newest[rec.ID]
		if ok && cur.Version >= rec.Version {
			continue
		}
		if !ok {
			// The database may hold a newer (ended) version of a record not listed.
			var v int64
			err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT version FROM calls WHERE id = ?`), rec.ID).Scan(&v)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return nil, fmt.Errorf("read call %s: %w", rec.ID, err)
			case v >= rec.Version:
				continue
			}
		}
		newest[rec.ID] = rec
	}
	out := make([]callflow.CallRecord, 0, len(newest))
	for _, rec := range newest {
		if rec.Ended == nil {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
