package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"linkctl/callflow"
)

// Schema is the version tag of every document POSTed to a ticket system.
const Schema = "linkctl.ticket.v1"

// DeliveryState is where one queued document stands for one ticket system.
type DeliveryState int

const (
	DeliveryPending    DeliveryState = iota + 1 // queued or being retried
	DeliveryDelivered                           // the ticket system answered 2xx
	DeliveryFailed                              // refused with a 4xx (not 408/429): will not be retried
	DeliverySuperseded                          // a newer version of the same call record replaced it before delivery
)

var deliveryStateNames = map[DeliveryState]string{
	DeliveryPending:    "pending",
	DeliveryDelivered:  "delivered",
	DeliveryFailed:     "failed",
	DeliverySuperseded: "superseded",
}

func (d DeliveryState) String() string {
	if n, ok := deliveryStateNames[d]; ok {
		return n
	}
	return fmt.Sprintf("DeliveryState(%d)", int(d))
}

// Label is the zh-CN name for supervisors.
func (d DeliveryState) Label() string {
	switch d {
	case DeliveryPending:
		return "待送达"
	case DeliveryDelivered:
		return "已送达"
	case DeliveryFailed:
		return "送达失败"
	case DeliverySuperseded:
		return "已被新版本取代"
	}
	return d.String()
}

// MarshalText writes the state name.
func (d DeliveryState) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func parseDeliveryState(s string) DeliveryState {
	for k, v := range deliveryStateNames {
		if v == s {
			return k
		}
	}
	return 0
}

// Delivery is the state of one document for one ticket system.
type Delivery struct {
	Seq            int64         `json:"seq"`
	System         string        `json:"system"`
	Platform       string        `json:"platform"`
	Kind           string        `json:"kind"` // "call" or "push"
	ItemID         string        `json:"item_id"`
	Event          string        `json:"event"`
	IdempotencyKey string        `json:"idempotency_key"`
	State          DeliveryState `json:"state"`
	Attempts       int           `json:"attempts"`
	LastStatus     int           `json:"last_status,omitempty"`
	LastError      string        `json:"last_error,omitempty"`
	NextAttempt    time.Time     `json:"next_attempt"`
	Queued         time.Time     `json:"queued"`
	Done           *time.Time    `json:"done,omitempty"`
}

// Envelope is the JSON document POSTed to a ticket system (see doc.go).
type Envelope struct {
	Schema         string    `json:"schema"`
	Event          string    `json:"event"`
	IdempotencyKey string    `json:"idempotency_key"`
	System         string    `json:"system"`
	Platform       string    `json:"platform"`
	Queued         time.Time `json:"queued"`
	Call           Document  `json:"call,omitempty"`
	Push           Document  `json:"push,omitempty"`
}

// Sign returns the X-Linkage-Signature value of a body: "sha256=<hex HMAC-SHA256>".
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks an X-Linkage-Signature header in constant time
// (for ticket systems written in Go, and for tests).
func VerifySignature(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// CallIdempotencyKey is stable per call-record version.
func CallIdempotencyKey(id string, version int64) string {
	return fmt.Sprintf("call:%s:v%d", id, version)
}

// PushIdempotencyKey is stable per push event (its history sequence number).
func PushIdempotencyKey(id string, seq int) string { return fmt.Sprintf("push:%s:%d", id, seq) }

// involves12345 reports whether the 12345 side has any part in a call; a
// restricted call it has no part in is not sent to 12345 at all.
func involves12345(rec callflow.CallRecord) bool {
	if rec.FirstPlatform == callflow.Platform12345 || rec.Ticket12345 != "" {
		return true
	}
	for _, l := range rec.Legs {
		if l.Role == callflow.RoleAgent12345 {
			return true
		}
	}
	return false
}

// enqueueCall queues a finished record version for every ticket system, in
// the transaction that wrote it, and supersedes older undelivered versions.
func (s *Store) enqueueCall(ctx context.Context, tx *sql.Tx, rec callflow.CallRecord) (int, error) {
	key := CallIdempotencyKey(rec.ID, rec.Version)
	restricted := s.policy.RecordRestricted(rec)
	n := 0
	for _, w := range s.sinks {
		if w.platform == callflow.Platform12345 && restricted && !involves12345(rec) {
			continue
		}
		doc, err := s.policy.RedactFor(w.platform, rec)
		if err != nil {
			return n, err
		}
		env := Envelope{Call: doc}
		added, err := s.enqueue(ctx, tx, w, "call", rec.ID, "call.record", key, env)
		if err != nil {
			return n, err
		}
		if added {
			n++
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE outbox SET state = ?, done_ms = ?
				WHERE system = ? AND kind = 'call' AND item_id = ? AND state = ? AND idem_key <> ?`),
				DeliverySuperseded.String(), s.now().UnixMilli(), w.name, rec.ID, DeliveryPending.String(), key); err != nil {
				return n, fmt.Errorf("supersede deliveries of call %s: %w", rec.ID, err)
			}
		}
	}
	return n, nil
}

// enqueuePush queues a push event for every ticket system.
func (s *Store) enqueuePush(ctx context.Context, tx *sql.Tx, p Push, event string) error {
	key := PushIdempotencyKey(p.ID, len(p.History))
	for _, w := range s.sinks {
		doc, err := s.policy.RedactFor(w.platform, p)
		if err != nil {
			return err
		}
		if _, err := s.enqueue(ctx, tx, w, "push", p.ID, event, key, Envelope{Push: doc}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, w *sinkWorker, kind, itemID, event, key string, env Envelope) (bool, error) {
	now := s.now()
	env.Schema, env.Event, env.IdempotencyKey = Schema, event, key
	env.System, env.Platform, env.Queued = w.name, string(w.platform), now
	body, err := json.Marshal(env)
	if err != nil {
		return false, fmt.Errorf("encode %s %s for %s: %w", kind, itemID, w.name, err)
	}
	res, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO outbox
		(system, platform, kind, item_id, event, idem_key, body, state, attempts, next_ms, created_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (system, idem_key) DO NOTHING`),
		w.name, string(w.platform), kind, itemID, event, key, string(body), DeliveryPending.String(),
		now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("queue %s %s for %s: %w", kind, itemID, w.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("queue %s %s for %s: %w", kind, itemID, w.name, err)
	}
	return n == 1, nil
}

// kickOutbox wakes every delivery worker.
func (s *Store) kickOutbox() {
	for _, w := range s.sinks {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Deliveries returns the delivery state of a call record ("call") or a push
// ("push") for every ticket system, oldest first.
func (s *Store) Deliveries(ctx context.Context, kind, id string) ([]Delivery, error) {
	if kind != "call" && kind != "push" {
		return nil, &FieldError{Field: "kind", Msg: fmt.Sprintf("%q is not call or push", kind)}
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT seq, system, platform, kind, item_id, event, idem_key,
		state, attempts, next_ms, last_status, last_error, created_ms, done_ms
		FROM outbox WHERE kind = ? AND item_id = ? ORDER BY seq`), kind, id)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s %s: %w", kind, id, err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var (
			d                 Delivery
			state             string
			nextMs, createdMs int64
			doneMs            sql.NullInt64
		)
		if err := rows.Scan(&d.Seq, &d.System, &d.Platform, &d.Kind, &d.ItemID, &d.Event, &d.IdempotencyKey,
			&state, &d.Attempts, &nextMs, &d.LastStatus, &d.LastError, &createdMs, &doneMs); err != nil {
			return nil, fmt.Errorf("deliveries of %s %s: %w", kind, id, err)
		}
		d.State = parseDeliveryState(state)
		d.NextAttempt, d.Queued = time.UnixMilli(nextMs).UTC(), time.UnixMilli(createdMs).UTC()
		if doneMs.Valid {
			t := time.UnixMilli(doneMs.Int64).UTC()
			d.Done = &t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// OutboxCounts returns, per ticket system, how many documents are in each state.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT system, state, COUNT(*) FROM outbox GROUP BY system, state`)
	if err != nil {
		return nil, fmt.Errorf("outbox counts: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var sys, state string
		var n int
		if err := rows.Scan(&sys, &state, &n); err != nil {
			return nil, fmt.Errorf("outbox counts: %w", err)
		}
		if out[sys] == nil {
			out[sys] = map[string]int{}
		}
		out[sys][state] = n
	}
	return out, rows.Err()
}

// RetryDelivery puts a failed delivery (by its Seq) back in the queue with
// the same body and Idempotency-Key, e.g. after the ticket system fixed what
// made it answer 4xx. Only failed deliveries can be retried.
func (s *Store) RetryDelivery(ctx context.Context, seq int64) error {
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE outbox SET state = ?, next_ms = ?, done_ms = NULL
		WHERE seq = ? AND state = ?`), DeliveryPending.String(), s.now().UnixMilli(), seq, DeliveryFailed.String())
	if err != nil {
		return fmt.Errorf("retry delivery %d: %w", seq, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var state string
		err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT state FROM outbox WHERE seq = ?`), seq).Scan(&state)
		if err != nil {
			return fmt.Errorf("delivery %d: %w", seq, ErrNotFound)
		}
		return &FieldError{Field: "seq", Msg: fmt.Sprintf("delivery %d is %s, only failed deliveries are retried", seq, state)}
	}
	s.kickOutbox()
	return nil
}
