package callflow

import "time"

// This file is the call record: what the controller writes as a call progresses and
// what the store, the ticket systems and the supervisor views read. It is the contract
// between package callflow (the writer) and its readers; change it in one place.

// Platform is one of the two linked hotlines.
type Platform string

const (
	Platform12345 Platform = "12345"
	Platform110   Platform = "110"
)

// Other returns the other platform.
func (p Platform) Other() Platform {
	if p == Platform12345 {
		return Platform110
	}
	return Platform12345
}

// Direction of a transfer or push, e.g. "12345->110".
type Direction string

const (
	Dir12345To110 Direction = "12345->110"
	Dir110To12345 Direction = "110->12345"
)

// DirectionFrom returns the direction of a hand-off that starts on platform p.
func DirectionFrom(p Platform) Direction {
	if p == Platform12345 {
		return Dir12345To110
	}
	return Dir110To12345
}

// LegRole is who a leg belongs to.
type LegRole string

const (
	RoleCitizen    LegRole = "citizen"
	RoleAgent12345 LegRole = "agent-12345"
	RoleAgent110   LegRole = "agent-110"
)

// AgentRole returns the agent role of platform p.
func AgentRole(p Platform) LegRole {
	if p == Platform12345 {
		return RoleAgent12345
	}
	return RoleAgent110
}

// TransferMode is how a call was handed to the other platform.
type TransferMode string

const (
	ModeOneKey    TransferMode = "one-key"   // 一键转接
	ModeThreeWay  TransferMode = "three-way" // 三方通话
	ModeEmergency TransferMode = "emergency" // 紧急警情优先转110
)

// TransferOutcome is how a transfer ended.
type TransferOutcome string

const (
	OutcomePending      TransferOutcome = ""              // still in progress
	OutcomeCompleted    TransferOutcome = "completed"     // other platform took the caller (one-key / emergency)
	OutcomeNoAnswer     TransferOutcome = "no-answer"     // caller returned to first agent
	OutcomeBusy         TransferOutcome = "busy"          // caller returned to first agent
	OutcomeUnavailable  TransferOutcome = "unavailable"   // caller returned to first agent
	OutcomeCancelled    TransferOutcome = "cancelled"     // agent pressed cancel
	OutcomeCallerGone   TransferOutcome = "caller-hangup" // caller hung up before completion
	OutcomeHandedOver   TransferOutcome = "handed-over"   // three-way: other platform keeps the caller
	OutcomeKept         TransferOutcome = "kept"          // three-way: first platform keeps the caller
	OutcomeUndetermined TransferOutcome = "undetermined"  // three-way: no agreement, first-receiving platform keeps it
	OutcomeFailed       TransferOutcome = "failed"        // PBX error; caller stays with first agent
	OutcomeInterrupted  TransferOutcome = "interrupted"   // linkctl died and the call's channels were gone after the restart
)

// CallRecord is everything known about one citizen call, end to end (全程可溯).
type CallRecord struct {
	ID             string            `json:"id"`             // linkctl call id (also X-Linkage-Call-Id)
	FirstPlatform  Platform          `json:"first_platform"` // 首接平台: where the citizen called first
	OwnerPlatform  Platform          `json:"owner_platform"` // who has the caller now / at the end
	CallerNumber   string            `json:"caller_number"`
	Ticket12345    string            `json:"ticket_12345,omitempty"` // 12345 工单号
	Ticket110      string            `json:"ticket_110,omitempty"`   // 110 警单号
	Category       string            `json:"category,omitempty"`     // matters-list category, "大类/小类"
	Emergency      bool              `json:"emergency,omitempty"`
	Confidential   bool              `json:"confidential,omitempty"` // restricted police matter: never shared to 12345
	State          string            `json:"state"`                  // call state machine state
	Started        time.Time         `json:"started"`
	Answered       *time.Time        `json:"answered,omitempty"`
	Ended          *time.Time        `json:"ended,omitempty"`
	EndCause       string            `json:"end_cause,omitempty"`
	Outcome        string            `json:"outcome,omitempty"` // final outcome of the call
	Legs           []Leg             `json:"legs"`
	Softkeys       []Softkey         `json:"softkeys"`
	Transfers      []Transfer        `json:"transfers"`
	InboundHeaders map[string]string `json:"inbound_headers,omitempty"` // X-Linkage-* read on arrival
	Version        int64             `json:"version"`                   // bumped on every change; stores keep the highest
}

// Leg is one channel of the call.
type Leg struct {
	ChannelID string     `json:"channel_id"`
	Role      LegRole    `json:"role"`
	Endpoint  string     `json:"endpoint"` // e.g. "PJSIP/a110-2001"
	Agent     string     `json:"agent,omitempty"`
	Created   time.Time  `json:"created"`
	Answered  *time.Time `json:"answered,omitempty"`
	Bridged   *time.Time `json:"bridged,omitempty"`
	Left      *time.Time `json:"left,omitempty"`
	HungUp    *time.Time `json:"hung_up,omitempty"`
	Cause     int        `json:"cause,omitempty"` // Q.850
	CauseText string     `json:"cause_txt,omitempty"`
}

// Softkey is one softkey press (DTMF feature code or agent-desktop HTTP call).
type Softkey struct {
	At       time.Time `json:"at"`
	Agent    string    `json:"agent"`            // agent endpoint/id who pressed
	Key      string    `json:"key"`              // transfer, three-way, hand-over, keep, undetermined, cancel
	Source   string    `json:"source"`           // "dtmf", "http", "refer"
	Accepted bool      `json:"accepted"`         // false when refused
	Reason   string    `json:"reason,omitempty"` // why refused (zh-CN for the agent)
}

// Transfer is one hand-off attempt to the other platform.
type Transfer struct {
	ID        string          `json:"id"`
	Mode      TransferMode    `json:"mode"`
	Direction Direction       `json:"direction"`
	Category  string          `json:"category,omitempty"`
	Emergency bool            `json:"emergency,omitempty"`
	Requested time.Time       `json:"requested"`
	Answered  *time.Time      `json:"answered,omitempty"`
	Completed *time.Time      `json:"completed,omitempty"`
	Outcome   TransferOutcome `json:"outcome"`
	Reason    string          `json:"reason,omitempty"`
	TargetLeg string          `json:"target_leg,omitempty"` // channel id of the other platform's leg
	FromAgent string          `json:"from_agent,omitempty"`
	ToAgent   string          `json:"to_agent,omitempty"`
}

// RecordSink receives every version of every call record as the call progresses
// (implemented by the store; the controller never blocks on it for long).
type RecordSink interface {
	SaveCall(rec CallRecord) error
}
