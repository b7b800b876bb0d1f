package api

import (
	"context"
	"time"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// Controller is what the API needs from the call controller (*callflow.Controller).
type Controller interface {
	// Softkey runs one agent-desktop softkey; a refused key is Accepted=false
	// with a zh-CN Reason, not an error.
	Softkey(ctx context.Context, req callflow.SoftkeyRequest) (callflow.SoftkeyResult, error)
	// Call returns a live (or recently ended) call kept by the controller.
	Call(id string) (callflow.CallRecord, bool)
	// Calls returns the calls the controller holds in memory.
	Calls() []callflow.CallRecord
	// ReloadMatters swaps the transfer matters list.
	ReloadMatters(*config.Matters)
	// SetTicket assigns a platform's ticket id (工单号/警单号) to a live or ended call.
	SetTicket(ctx context.Context, callID string, platform callflow.Platform, ticket string) (callflow.CallRecord, error)
}

// Store is what the API needs from the durable store (*store.Store).
type Store interface {
	GetCall(ctx context.Context, id string) (callflow.CallRecord, error)
	ListCalls(ctx context.Context, f store.CallFilter) ([]callflow.CallRecord, error)
	// Subscribe delivers every new version of every call record until cancel is called.
	Subscribe() (<-chan callflow.CallRecord, func())
	// DailyStatsFor computes a day's figures as a reader on platform may see them.
	DailyStatsFor(ctx context.Context, day time.Time, reader callflow.Platform) (store.DailyStats, error)
	CreatePush(ctx context.Context, p store.Push) (store.Push, error)
	GetPush(ctx context.Context, id string) (store.Push, error)
	ListPushes(ctx context.Context, f store.PushFilter) ([]store.Push, error)
	UpdatePush(ctx context.Context, id string, u store.PushUpdate) (store.Push, error)
	// Deliveries lists the ticket-system deliveries of a record: kind is "call" or "push".
	Deliveries(ctx context.Context, kind, id string) ([]store.Delivery, error)
	// Healthy reports whether the store can write.
	Healthy(ctx context.Context) error
}

// The real controller and store satisfy the API's needs.
var (
	_ Controller = (*callflow.Controller)(nil)
	_ Store      = (*store.Store)(nil)
)

// ReadyCheck is one readiness condition of /readyz (ARI connected, store writable, a trunk up).
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}
