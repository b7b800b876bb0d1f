package callflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PBX is everything the controller needs from the phone switch. The ARI adapter
// (package ari/client) implements it against Asterisk 22 or the embedded switch.
// Every method takes a context and must return when it is done; ids of channels,
// bridges and playbacks are always chosen by the caller (the controller), so that
// the controller can route events for an id before the command that creates it runs.
type PBX interface {
	Answer(ctx context.Context, channelID string) error
	// Originate creates an outgoing channel that enters the Stasis application on answer.
	Originate(ctx context.Context, req OriginateRequest) error
	// Create makes a channel in Stasis without dialling it; Dial then rings it.
	Create(ctx context.Context, req OriginateRequest) error
	Dial(ctx context.Context, channelID, callerID string, timeout time.Duration) error
	// Hangup hangs up a channel with an ARI reason ("normal", "busy", "no_answer", ...).
	Hangup(ctx context.Context, channelID, reason string) error
	Ring(ctx context.Context, channelID string) error
	StopRing(ctx context.Context, channelID string) error
	StartMOH(ctx context.Context, channelID, class string) error
	StopMOH(ctx context.Context, channelID string) error
	// Play starts media ("sound:x", "tone:ring") on a channel under the given playback id.
	Play(ctx context.Context, channelID, playbackID, media string) error
	StopPlayback(ctx context.Context, playbackID string) error
	GetVar(ctx context.Context, channelID, name string) (string, error)
	SetVar(ctx context.Context, channelID, name, value string) error
	// TransferProgress answers a ChannelTransfer (phone transfer key) with an ARI state
	// (channel_progress, channel_answered, channel_unavailable, channel_declined).
	TransferProgress(ctx context.Context, channelID, state string) error
	CreateBridge(ctx context.Context, bridgeID string) error // always a mixing bridge
	DestroyBridge(ctx context.Context, bridgeID string) error
	AddToBridge(ctx context.Context, bridgeID string, channelIDs ...string) error
	RemoveFromBridge(ctx context.Context, bridgeID, channelID string) error
	Channels(ctx context.Context) ([]ChannelInfo, error)
	Bridges(ctx context.Context) ([]BridgeInfo, error)
	// EndpointState reads GET /endpoints/{tech}/{resource}: on Asterisk a qualified
	// trunk or AOR is online or offline, an endpoint without qualify is unknown.
	// An endpoint the PBX does not know answers ErrNoSuchEndpoint.
	EndpointState(ctx context.Context, tech, resource string) (EndpointStatus, error)
	// Events is the stream of PBX events for the Stasis application. It is closed
	// when the PBX adapter is closed.
	Events() <-chan Event
}

// OriginateRequest is an outgoing leg.
type OriginateRequest struct {
	ChannelID  string
	Endpoint   string // dial string, e.g. "PJSIP/a110-2001"
	AppArgs    []string
	CallerID   string
	Timeout    time.Duration
	Originator string            // channel the leg is made for (codec hint)
	Variables  map[string]string // includes PJSIP_HEADER(add,...) entries
}

// EndpointStatus is the state of a PBX endpoint (ARI Endpoint.state).
type EndpointStatus string

const (
	EndpointUnknown EndpointStatus = "unknown"
	EndpointOnline  EndpointStatus = "online"
	EndpointOffline EndpointStatus = "offline"
)

func (s EndpointStatus) String() string { return string(s) }

// ChannelInfo is a channel as listed by the PBX.
type ChannelInfo struct {
	ID           string
	Name         string
	State        string // Down, Ring, Ringing, Up
	CallerNumber string
}

// BridgeInfo is a bridge as listed by the PBX.
type BridgeInfo struct {
	ID         string
	Channels   []string
	Technology string
}

// Event is one PBX event; the concrete types below are all of them.
type Event interface{ ChannelIDOf() string }

// StasisStart: a channel entered the application (inbound with args "inbound,<entry>",
// or an originated leg after answer, or a created channel at once).
type StasisStart struct {
	ChannelID    string
	Name         string
	State        string
	CallerNumber string
	Args         []string
}

// StasisEnd: the channel left the application (usually because it hung up).
type StasisEnd struct{ ChannelID string }

// ChannelStateChange: e.g. Ringing, Up.
type ChannelStateChange struct{ ChannelID, State string }

// DTMFReceived is one DTMF digit received on a channel.
type DTMFReceived struct{ ChannelID, Digit string }

// HangupRequest: a hangup was requested (remote BYE: cause 0; ARI DELETE: soft with cause 32).
type HangupRequest struct {
	ChannelID string
	Cause     int
	Soft      bool
}

// ChannelDestroyed carries the real Q.850 cause. Inbound channels often never get one.
type ChannelDestroyed struct {
	ChannelID string
	Cause     int
	CauseText string
}

// DialStatus: progress of an originated/dialled channel ("", RINGING, ANSWER, BUSY, NOANSWER, ...).
// Asterisk does not send a final Dial for every failure: never wait for one.
type DialStatus struct {
	ChannelID string // the peer (dialled) channel
	Status    string
}

// EnteredBridge: a channel joined a bridge.
type EnteredBridge struct{ ChannelID, BridgeID string }

// LeftBridge: a channel left a bridge.
type LeftBridge struct{ ChannelID, BridgeID string }

// PlaybackFinished: a playback ended (state done or failed).
type PlaybackFinished struct{ ChannelID, PlaybackID, State string }

// TransferRequested is ARI ChannelTransfer without a state: the phone's own transfer key
// (REFER with PJSIP_TRANSFER_HANDLING=ari-only).
type TransferRequested struct {
	ChannelID        string // the channel that sent the REFER (the agent)
	ConnectedChannel string // its peer (the citizen)
	BridgeID         string
	Destination      string // refer_to.requested_destination.destination
}

// Connected is sent by the adapter each time the event stream (re)connects. Events may
// have been missed while it was down: the controller reconciles from current state.
type Connected struct{ Reconnect bool }

func (e StasisStart) ChannelIDOf() string        { return e.ChannelID }
func (e StasisEnd) ChannelIDOf() string          { return e.ChannelID }
func (e ChannelStateChange) ChannelIDOf() string { return e.ChannelID }
func (e DTMFReceived) ChannelIDOf() string       { return e.ChannelID }
func (e HangupRequest) ChannelIDOf() string      { return e.ChannelID }
func (e ChannelDestroyed) ChannelIDOf() string   { return e.ChannelID }
func (e DialStatus) ChannelIDOf() string         { return e.ChannelID }
func (e EnteredBridge) ChannelIDOf() string      { return e.ChannelID }
func (e LeftBridge) ChannelIDOf() string         { return e.ChannelID }
func (e PlaybackFinished) ChannelIDOf() string   { return e.ChannelID }
func (e TransferRequested) ChannelIDOf() string  { return e.ChannelID }
func (e Connected) ChannelIDOf() string          { return "" }

// Errors the PBX adapter maps ARI answers to (wrapped in *PBXError).
var (
	ErrChannelGone      = errors.New("channel not found")     // 404 on a channel (it hung up); 400 "Channel not found" on addChannel
	ErrBridgeGone       = errors.New("bridge not found")      // 404 on a bridge
	ErrConflict         = errors.New("id already exists")     // 409
	ErrNotInStasis      = errors.New("channel not in stasis") // 422 (also "Channel not in this bridge")
	ErrAllocationFailed = errors.New("allocation failed")     // 500 {"error":"Allocation failed"}: endpoint unknown/unreachable
	ErrNoSuchVariable   = errors.New("variable not readable") // 404 variable; 500 "Unable to read provided function" (absent header)
	ErrNoSuchEndpoint   = errors.New("endpoint not found")    // 404 on /endpoints
	ErrBadRequest       = errors.New("bad request")           // 400
	ErrPBXUnavailable   = errors.New("pbx unreachable")       // transport failure, deadline
	ErrPBXInternal      = errors.New("pbx internal error")    // other 5xx
)

// PBXError is a failed PBX command: which operation, on what, how the PBX answered.
type PBXError struct {
	Op      string // e.g. "originate", "bridge add"
	ID      string // channel or bridge id
	Status  int    // HTTP status, 0 for transport failures
	Message string // PBX message
	Kind    error  // one of the Err* sentinels
	Err     error  // transport error, if any
}

func (e *PBXError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s %s: %v: %v", e.Op, e.ID, e.Kind, e.Err)
	}
	return fmt.Sprintf("%s %s: %v (status %d: %s)", e.Op, e.ID, e.Kind, e.Status, e.Message)
}

// Unwrap lets errors.Is match the sentinel and the transport error.
func (e *PBXError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}
