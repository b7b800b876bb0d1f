package api

import (
	"context"
	"time"

	"linkctl/callflow"
	"linkctl/config"
)

// Controller is what the API needs from the call controller (package callflow).
type Controller interface {
	// Softkey runs one agent-desktop softkey; a refused key is Accepted=false
	// with a zh-CN Reason, not an error.
	Softkey(ctx context.Context, req SoftkeyRequest) (SoftkeyResult, error)
	// Call returns a live (or recently ended) call kept by the controller.
	Call(id string) (callflow.CallRecord, bool)
	// Calls returns the calls the controller holds in memory.
	Calls() []callflow.CallRecord
	// ReloadMatters swaps the transfer matters list.
	ReloadMatters(*config.Matters)
}

// SoftkeyRequest is one softkey pressed on an agent desktop (same fields as
// callflow's request; see the adapter note in the package README).
type SoftkeyRequest struct {
	CallID    string
	ChannelID string
	Agent     string
	Key       string
	TicketID  string
	Category  string
	Emergency bool
	Source    string
}

// SoftkeyResult is the controller's answer to a softkey.
type SoftkeyResult struct {
	Accepted   bool
	Reason     string // zh-CN, for the agent
	CallID     string
	TransferID string
	Duplicate  bool   // a repeated press of the key already in progress (acted on once)
	State      string // the call's state after the key
}

// Store is what the API needs from the durable store (package store).
type Store interface {
	GetCall(ctx context.Context, id string) (callflow.CallRecord, error)
	ListCalls(ctx context.Context, f CallFilter) ([]callflow.CallRecord, error)
	// Subscribe delivers every new version of every call record until cancel is called.
	Subscribe() (<-chan callflow.CallRecord, func())
	DailyStats(ctx context.Context, day time.Time) (DailyStats, error)
	CreatePush(ctx context.Context, p Push) (Push, error)
	GetPush(ctx context.Context, id string) (Push, error)
	ListPushes(ctx context.Context, f PushFilter) ([]Push, error)
	UpdatePush(ctx context.Context, id string, u PushUpdate) (Push, error)
	// Deliveries lists the ticket-system deliveries of a record: kind is "call" or "push".
	Deliveries(ctx context.Context, kind, id string) ([]Delivery, error)
	// Healthy reports whether the store can write.
	Healthy(ctx context.Context) error
}

// CallFilter selects call records; zero fields do not filter.
type CallFilter struct {
	From, To time.Time
	Platform string // first or owner platform
	Agent    string // an agent leg's agent id or endpoint
	Ticket   string // either side's ticket id
	Outcome  string
	Category string
	Limit    int
}

// PushStatus is where a system push is: pushed → accepted → handled → fed-back, or returned (回流).
type PushStatus string

const (
	PushPushed   PushStatus = "pushed"
	PushAccepted PushStatus = "accepted"
	PushHandled  PushStatus = "handled"
	PushFedBack  PushStatus = "fed-back"
	PushReturned PushStatus = "returned"
)

// String returns the status as written on the wire.
func (s PushStatus) String() string { return string(s) }

// Contact is how to reach the citizen of a push.
type Contact struct {
	Name    string `json:"name,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Address string `json:"address,omitempty"`
}

// Attachment is a reference to a file kept elsewhere; linkctl never carries content.
type Attachment struct {
	Name string `json:"name"`
	Ref  string `json:"ref"` // URL or document-system id
	Type string `json:"type,omitempty"`
}

// Feedback is the receiving platform's result (反馈回写), linked to the original ticket.
type Feedback struct {
	Result         string    `json:"result"`
	Handler        string    `json:"handler,omitempty"`
	Ticket         string    `json:"ticket,omitempty"`          // the receiving side's ticket id
	OriginalTicket string    `json:"original_ticket,omitempty"` // the sending side's ticket
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

// Push is a ticket sent to the other platform without a call (系统推送). Its JSON
// shape is the store's.
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
	CallID      string             `json:"call_id,omitempty"`
	CreatedBy   string             `json:"created_by,omitempty"`
	Status      PushStatus         `json:"status"`
	Reason      string             `json:"reason,omitempty"`
	Feedback    *Feedback          `json:"feedback,omitempty"`
	History     []PushEvent        `json:"history"`
	Created     time.Time          `json:"created"`
	Updated     time.Time          `json:"updated"`
	Version     int64              `json:"version"`
}

// PushUpdate moves a push: accepted, handled, fed-back (with Feedback) or returned (with Reason).
type PushUpdate struct {
	Status   PushStatus
	By       string // token name of who changed it
	Reason   string
	Ticket   string // the receiving side's ticket id, when it assigns one
	Feedback *Feedback
}

// PushFilter selects pushes; zero fields do not filter.
type PushFilter struct {
	Direction callflow.Direction
	Status    PushStatus
	Ticket    string
	Limit     int
}

// Delivery is the state of one record's delivery to one ticket system.
type Delivery struct {
	Target         string     `json:"target"`
	Kind           string     `json:"kind"` // call or push
	RefID          string     `json:"ref_id"`
	Version        int64      `json:"version,omitempty"`
	IdempotencyKey string     `json:"idempotency_key"`
	State          string     `json:"state"` // pending, delivered, failed
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error,omitempty"`
	NextAttempt    *time.Time `json:"next_attempt,omitempty"`
	Delivered      *time.Time `json:"delivered,omitempty"`
}

// DailyStats are one day's figures for supervisors.
type DailyStats struct {
	Date                 string         `json:"date"` // YYYY-MM-DD
	Calls                int            `json:"calls"`
	TransfersByDirection map[string]int `json:"transfers_by_direction"`
	TransfersByCategory  map[string]int `json:"transfers_by_category"`
	TransfersByOutcome   map[string]int `json:"transfers_by_outcome"`
	NoAnswerFallbacks    int            `json:"no_answer_fallbacks"`
	ThreeWayResolutions  map[string]int `json:"three_way_resolutions"`
	BounceBacks          int            `json:"bounce_backs"`
	MedianAnswerSeconds  float64        `json:"median_answer_seconds"`
}

// ReadyCheck is one readiness condition of /readyz (ARI connected, store writable, a trunk up).
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}
