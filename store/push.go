package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
)

// PushStatus is where a system push (系统推送) stands on the receiving platform.
type PushStatus int

const (
	PushPushed   PushStatus = iota + 1 // 已推送: sent, not yet taken
	PushAccepted                       // 已受理: the other platform took it
	PushHandled                        // 已办结: the other platform finished handling it
	PushFedBack                        // 已反馈: the result was written back to the original ticket
	PushReturned                       // 已回流: sent back, with a reason
)

var pushStatusNames = map[PushStatus]string{
	PushPushed:   "pushed",
	PushAccepted: "accepted",
	PushHandled:  "handled",
	PushFedBack:  "fed-back",
	PushReturned: "returned",
}

func (s PushStatus) String() string {
	if n, ok := pushStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("PushStatus(%d)", int(s))
}

// Label is the zh-CN name shown to agents and supervisors.
func (s PushStatus) Label() string {
	switch s {
	case PushPushed:
		return "已推送"
	case PushAccepted:
		return "已受理"
	case PushHandled:
		return "已办结"
	case PushFedBack:
		return "已反馈"
	case PushReturned:
		return "已回流"
	}
	return s.String()
}

// ParsePushStatus reads a status name ("accepted", ...).
func ParsePushStatus(name string) (PushStatus, error) {
	for s, n := range pushStatusNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown push status %q (pushed, accepted, handled, fed-back, returned)", ErrInvalid, name)
}

// MarshalText writes the status name.
func (s PushStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status name.
func (s *PushStatus) UnmarshalText(b []byte) error {
	v, err := ParsePushStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// pushTransitions is every legal move of the push state machine, in the order
// of issue 5: pushed → accepted → handled → fed-back, or returned (回流) before
// handling. Feedback needs a handled push: no status is skipped.
var pushTransitions = map[PushStatus][]PushStatus{
	PushPushed:   {PushAccepted, PushReturned},
	PushAccepted: {PushHandled, PushReturned},
	PushHandled:  {PushFedBack},
}

func pushCanMove(from, to PushStatus) bool {
	for _, t := range pushTransitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Contact is how to reach the citizen of a push.
type Contact struct {
	Name    string `json:"name,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Address string `json:"address,omitempty"`
}

// Attachment is a reference to a file kept elsewhere; linkctl never stores content.
type Attachment struct {
	Name string `json:"name"`
	Ref  string `json:"ref"` // URL or document-system id
	Type string `json:"type,omitempty"`
}

// Feedback is the receiving platform's result, linked to the original ticket.
type Feedback struct {
	Result         string    `json:"result"`
	Handler        string    `json:"handler,omitempty"`         // unit or agent that handled it
	Ticket         string    `json:"ticket,omitempty"`          // the receiving side's own ticket id
	OriginalTicket string    `json:"original_ticket,omitempty"` // the sending side's ticket the result belongs to
	At             time.Time `json:"at"`
}

// PushEvent is one step of a push's history.
type PushEvent struct {
	Seq    int        `json:"seq"`
	Status PushStatus `json:"status"`
	At     time.Time  `json:"at"`
	By     string     `json:"by,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// Push is one system push (系统推送): a ticket handed to the other platform as
// data, without a call.
type Push struct {
	ID          string             `json:"id"`
	Direction   callflow.Direction `json:"direction"`
	Category    string             `json:"category"`
	Flags       []string           `json:"flags,omitempty"`
	Restricted  bool               `json:"restricted,omitempty"`
	Summary     string             `json:"summary"`
	Contact     Contact            `json:"contact"`
	Attachments []Attachment       `json:"attachments,omitempty"`
	Ticket12345 string             `json:"ticket_12345,omitempty"`
	Ticket110   string             `json:"ticket_110,omitempty"`
	CallID      string             `json:"call_id,omitempty"` // a related call, if any
	CreatedBy   string             `json:"created_by,omitempty"`
	Status      PushStatus         `json:"status"`
	Reason      string             `json:"reason,omitempty"` // why it was returned (回流)
	Feedback    *Feedback          `json:"feedback,omitempty"`
	History     []PushEvent        `json:"history"`
	Created     time.Time          `json:"created"`
	Updated     time.Time          `json:"updated"`
	Version     int64              `json:"version"`
}

// From is the sending platform; To the receiving one.
func (p Push) From() callflow.Platform {
	if p.Direction == callflow.Dir110To12345 {
		return callflow.Platform110
	}
	return callflow.Platform12345
}

// To is the receiving platform.
func (p Push) To() callflow.Platform { return p.From().Other() }

// OriginalTicket is the sending side's ticket id.
func (p Push) OriginalTicket() string {
	if p.From() == callflow.Platform12345 {
		return p.Ticket12345
	}
	return p.Ticket110
}

// PushUpdate moves a push: accepted / handled by the receiving side, fed-back
// with a result, or returned (回流) with a reason.
type PushUpdate struct {
	Status   PushStatus `json:"status"`
	By       string     `json:"by,omitempty"`
	Reason   string     `json:"reason,omitempty"`   // required for returned
	Ticket   string     `json:"ticket,omitempty"`   // the receiving side's ticket id, when it assigns one
	Feedback *Feedback  `json:"feedback,omitempty"` // required for fed-back
	Flags    []string   `json:"flags,omitempty"`    // confidentiality flags the receiver adds (never removed)
}

// PushFilter selects pushes; zero fields match everything.
type PushFilter struct {
	From, To  time.Time
	Direction callflow.Direction
	Status    PushStatus
	Ticket    string
	Limit     int
}

const maxSummary = 4000

// CreatePush records a new push in status pushed and queues it for every
// ticket system. The category must already be checked against the matters list.
func (s *Store) CreatePush(ctx context.Context, p Push) (Push, error) {
	if p.Direction != callflow.Dir12345To110 && p.Direction != callflow.Dir110To12345 {
		return Push{}, &FieldError{Field: "direction", Msg: fmt.Sprintf("%q is not a direction (12345->110, 110->12345)", p.Direction)}
	}
	if strings.TrimSpace(p.Category) == "" {
		return Push{}, &FieldError{Field: "category", Msg: "required"}
	}
	if strings.TrimSpace(p.Summary) == "" {
		return Push{}, &FieldError{Field: "summary", Msg: "required"}
	}
	if len([]rune(p.Summary)) > maxSummary {
		return Push{}, &FieldError{Field: "summary", Msg: fmt.Sprintf("longer than %d characters", maxSummary)}
	}
	for i, a := range p.Attachments {
		if a.Ref == "" {
			return Push{}, &FieldError{Field: fmt.Sprintf("attachments[%d].ref", i), Msg: "required (a reference, not content)"}
		}
	}
	now := s.now()
	if p.ID == "" {
		p.ID = newID("P")
	}
	p.Status = PushPushed
	p.Reason, p.Feedback = "", nil
	p.History = []PushEvent{{Seq: 1, Status: PushPushed, At: now, By: p.CreatedBy}}
	p.Created, p.Updated, p.Version = now, now, 1
	p.Restricted = s.policy.PushRestricted(p)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		doc, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode push: %w", err)
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO pushes
			(id, direction, category, status, ticket_12345, ticket_110, restricted, version, created_ms, updated_ms, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			p.ID, string(p.Direction), p.Category, p.Status.String(), p.Ticket12345, p.Ticket110,
			boolInt(p.Restricted), p.Version, now.UnixMilli(), now.UnixMilli(), string(doc))
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: push %s exists", ErrConflict, p.ID)
			}
			return fmt.Errorf("insert push %s: %w", p.ID, err)
		}
		return s.enqueuePush(ctx, tx, p, "push.created")
	})
	if err != nil {
		return Push{}, err
	}
	s.log.Info("push created", zap.String("push_id", p.ID), zap.String("direction", string(p.Direction)),
		zap.String("ticket_12345", p.Ticket12345), zap.String("ticket_110", p.Ticket110), zap.Bool("restricted", p.Restricted))
	s.kickOutbox()
	return p, nil
}

// GetPush returns one push or ErrNotFound.
func (s *Store) GetPush(ctx context.Context, id string) (Push, error) {
	return s.getPush(ctx, s.db, id)
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *Store) getPush(ctx context.Context, q queryer, id string) (Push, error) {
	var doc string
	err := q.QueryRowContext(ctx, s.d.rebind(`SELECT doc FROM pushes WHERE id = ?`), id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return Push{}, fmt.Errorf("push %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Push{}, fmt.Errorf("read push %s: %w", id, err)
	}
	var p Push
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return Push{}, fmt.Errorf("decode push %s: %w", id, err)
	}
	return p, nil
}

// ListPushes returns pushes, newest first.
func (s *Store) ListPushes(ctx context.Context, f PushFilter) ([]Push, error) {
	var (
		where []string
		args  []any
	)
	if !f.From.IsZero() {
		where, args = append(where, "created_ms >= ?"), append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where, args = append(where, "created_ms < ?"), append(args, f.To.UnixMilli())
	}
	if f.Direction != "" {
		where, args = append(where, "direction = ?"), append(args, string(f.Direction))
	}
	if f.Status != 0 {
		where, args = append(where, "status = ?"), append(args, f.Status.String())
	}
	if f.Ticket != "" {
		where, args = append(where, "(ticket_12345 = ? OR ticket_110 = ?)"), append(args, f.Ticket, f.Ticket)
	}
	q := `SELECT doc FROM pushes`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_ms DESC, id DESC LIMIT ?"
	args = append(args, clampLimit(f.Limit))
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list pushes: %w", err)
	}
	defer rows.Close()
	var out []Push
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list pushes: %w", err)
		}
		var p Push
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			return nil, fmt.Errorf("decode push: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePush moves a push along its state machine and queues the event for
// every ticket system. An illegal move is a *TransitionError (errors.Is
// ErrIllegalTransition) naming from and to.
func (s *Store) UpdatePush(ctx context.Context, id string, u PushUpdate) (Push, error) {
	switch u.Status {
	case PushReturned:
		if strings.TrimSpace(u.Reason) == "" {
			return Push{}, &FieldError{Field: "reason", Msg: "required when a push is returned (回流原因)"}
		}
	case PushFedBack:
		if u.Feedback == nil || strings.TrimSpace(u.Feedback.Result) == "" {
			return Push{}, &FieldError{Field: "feedback.result", Msg: "required for feedback"}
		}
	case PushAccepted, PushHandled:
	case PushPushed:
		return Push{}, &TransitionError{ID: id, To: u.Status, Why: "a push is pushed only once, at creation"}
	default:
		return Push{}, &FieldError{Field: "status", Msg: fmt.Sprintf("unknown status %v", u.Status)}
	}
	var out Push
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := s.getPush(ctx, tx, id)
		if err != nil {
			return err
		}
		if !pushCanMove(p.Status, u.Status) {
			return &TransitionError{ID: id, From: p.Status, To: u.Status, Why: transitionWhy(p.Status)}
		}
		now := s.now()
		p.Status = u.Status
		p.Updated = now
		p.Version++
		p.History = append(p.History, PushEvent{Seq: len(p.History) + 1, Status: u.Status, At: now, By: u.By, Reason: u.Reason})
		if u.Ticket != "" {
			p.setReceiverTicket(u.Ticket)
		}
		if u.Status == PushReturned {
			p.Reason = u.Reason
		}
		if u.Feedback != nil && u.Status == PushFedBack {
			fb := *u.Feedback
			if fb.At.IsZero() {
				fb.At = now
			}
			if fb.Ticket != "" {
				p.setReceiverTicket(fb.Ticket)
			}
			fb.OriginalTicket = p.OriginalTicket()
			p.Feedback = &fb
		}
		p.Flags = mergeFlags(p.Flags, u.Flags)
		// Restriction only ever tightens: once restricted, always restricted.
		p.Restricted = p.Restricted || s.policy.PushRestricted(p)
		doc, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode push: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE pushes SET status = ?, ticket_12345 = ?, ticket_110 = ?,
			restricted = ?, version = ?, updated_ms = ?, doc = ? WHERE id = ?`),
			p.Status.String(), p.Ticket12345, p.Ticket110, boolInt(p.Restricted), p.Version, now.UnixMilli(), string(doc), id); err != nil {
			return fmt.Errorf("update push %s: %w", id, err)
		}
		out = p
		return s.enqueuePush(ctx, tx, p, pushEventName(u.Status))
	})
	if err != nil {
		return Push{}, err
	}
	s.log.Info("push updated", zap.String("push_id", id), zap.Stringer("status", out.Status),
		zap.String("ticket_12345", out.Ticket12345), zap.String("ticket_110", out.Ticket110))
	s.kickOutbox()
	return out, nil
}

func (p *Push) setReceiverTicket(t string) {
	if p.To() == callflow.Platform110 {
		p.Ticket110 = t
	} else {
		p.Ticket12345 = t
	}
}

func transitionWhy(from PushStatus) string {
	switch from {
	case PushFedBack:
		return "the push is closed: its result was already fed back"
	case PushReturned:
		return "the push was returned (回流); create a new push to send it again"
	}
	var next []string
	for _, t := range pushTransitions[from] {
		next = append(next, t.String())
	}
	return "from " + from.String() + " only " + strings.Join(next, ", ")
}

func pushEventName(s PushStatus) string {
	if s == PushFedBack {
		return "push.feedback"
	}
	return "push." + s.String()
}

func mergeFlags(have, add []string) []string {
	seen := map[string]bool{}
	for _, f := range have {
		seen[f] = true
	}
	for _, f := range add {
		if f = strings.TrimSpace(f); f != "" && !seen[f] {
			seen[f] = true
			have = append(have, f)
		}
	}
	return have
}

// newID returns a prefix plus 16 random hex digits.
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func clampLimit(n int) int {
	if n <= 0 || n > 1000 {
		if n > 1000 {
			return 1000
		}
		return 100
	}
	return n
}
