package callflow

import "fmt"

// CallState is where a citizen call is. Every change goes through transition().
type CallState int

const (
	StateRouting          CallState = iota // caller answered, own platform's agent group ringing, caller hears ringback
	StateTalking                           // caller bridged with one agent (the owner)
	StateTransferRinging                   // one-key: caller on announcement/MOH, other platform ringing
	StateConsultRinging                    // three-way: caller still talks with first agent, other platform ringing
	StateEmergencyRinging                  // emergency: like consult, the 110 leg with its own target and timeout
	StateThreeWay                          // caller and both agents in one mixing bridge
	StateEnded                             // everything torn down
)

var callStateNames = [...]string{"routing", "talking", "transfer-ringing", "consult-ringing", "emergency-ringing", "three-way", "ended"}

func (s CallState) String() string {
	if s >= 0 && int(s) < len(callStateNames) {
		return callStateNames[s]
	}
	return fmt.Sprintf("CallState(%d)", int(s))
}

// Input is what can happen to a call: a PBX outcome, a softkey, a timer.
type Input int

const (
	InAgentAnswered    Input = iota // an agent of the routing group answered
	InAgentsExhausted               // nobody of the routing group answered
	InTransfer                      // softkey one-key transfer
	InThreeWay                      // softkey three-way
	InEmergency                     // softkey emergency to 110
	InHandOver                      // softkey: other platform keeps the caller
	InKeep                          // softkey: first platform keeps the caller
	InUndetermined                  // softkey: first-receiving platform keeps the caller
	InCancel                        // softkey cancel
	InTargetAnswered                // the other platform's leg answered
	InTargetFailed                  // the other platform's legs all failed (busy/no answer/unavailable/timeout)
	InCallerHangup                  // the citizen hung up
	InOwnerHangup                   // the agent who has the caller hung up
	InOtherAgentHangup              // the other platform's agent (three-way) hung up
	InRequeue                       // a transfer failed after the first agent left: ring the owner's group again
	inputCount
)

var inputNames = [...]string{"agent-answered", "agents-exhausted", "transfer", "three-way", "emergency", "hand-over", "keep",
	"undetermined", "cancel", "target-answered", "target-failed", "caller-hangup", "owner-hangup", "other-agent-hangup", "requeue"}

func (in Input) String() string {
	if in >= 0 && int(in) < len(inputNames) {
		return inputNames[in]
	}
	return fmt.Sprintf("Input(%d)", int(in))
}

type edge struct {
	from CallState
	in   Input
}

// transitions is the one table of the call state machine. A pair missing here is
// illegal; refusals carries the reason given to the agent (zh-CN) for illegal softkeys.
var transitions = map[edge]CallState{
	{StateRouting, InAgentAnswered}:   StateTalking,
	{StateRouting, InAgentsExhausted}: StateRouting, // ring the group again; the caller keeps hearing ringback
	{StateRouting, InCallerHangup}:    StateEnded,

	{StateTalking, InTransfer}:     StateTransferRinging,
	{StateTalking, InThreeWay}:     StateConsultRinging,
	{StateTalking, InEmergency}:    StateEmergencyRinging,
	{StateTalking, InCallerHangup}: StateEnded,
	{StateTalking, InOwnerHangup}:  StateEnded,

	{StateTransferRinging, InTargetAnswered}: StateTalking,
	{StateTransferRinging, InTargetFailed}:   StateTalking, // back to the first agent (or to the group if that agent left)
	{StateTransferRinging, InCancel}:         StateTalking,
	{StateTransferRinging, InCallerHangup}:   StateEnded,
	{StateTransferRinging, InOwnerHangup}:    StateTransferRinging, // one-key releases the first agent anyway
	{StateTransferRinging, InRequeue}:        StateRouting,

	{StateConsultRinging, InTargetAnswered}: StateThreeWay,
	{StateConsultRinging, InTargetFailed}:   StateTalking,
	{StateConsultRinging, InCancel}:         StateTalking,
	{StateConsultRinging, InCallerHangup}:   StateEnded,
	{StateConsultRinging, InOwnerHangup}:    StateTransferRinging, // caller must not stay alone: MOH until the target answers

	{StateEmergencyRinging, InTargetAnswered}: StateTalking, // 110 takes the caller, first agent released
	{StateEmergencyRinging, InTargetFailed}:   StateTalking, // first agent still there and told
	{StateEmergencyRinging, InCancel}:         StateTalking,
	{StateEmergencyRinging, InCallerHangup}:   StateEnded,
	{StateEmergencyRinging, InOwnerHangup}:    StateTransferRinging,

	{StateThreeWay, InHandOver}:         StateTalking,
	{StateThreeWay, InKeep}:             StateTalking,
	{StateThreeWay, InUndetermined}:     StateTalking,
	{StateThreeWay, InCallerHangup}:     StateEnded,
	{StateThreeWay, InOwnerHangup}:      StateTalking, // the other two stay connected
	{StateThreeWay, InOtherAgentHangup}: StateTalking,
}

// TransitionError is an illegal input for a state.
type TransitionError struct {
	From   CallState
	Input  Input
	Reason string // zh-CN, shown to the agent
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("illegal transition from %s on %s: %s", e.From, e.Input, e.Reason)
}

// transition returns the next state, or a *TransitionError saying from, on what and why not.
func transition(from CallState, in Input) (CallState, error) {
	if to, ok := transitions[edge{from, in}]; ok {
		return to, nil
	}
	return from, &TransitionError{From: from, Input: in, Reason: refusal(from, in)}
}

// refusal explains, in Chinese for the agent, why an input is not possible now.
func refusal(from CallState, in Input) string {
	switch from {
	case StateEnded:
		return "通话已结束"
	case StateRouting:
		return "通话尚未接通坐席，无法操作"
	}
	switch in {
	case InTransfer, InThreeWay, InEmergency:
		switch from {
		case StateTransferRinging:
			return "一键转接正在进行中，请先按取消键后再操作"
		case StateConsultRinging:
			return "三方通话正在呼叫对方平台，请先按取消键后再操作"
		case StateEmergencyRinging:
			return "紧急转110正在进行中，请先按取消键后再操作"
		case StateThreeWay:
			return "三方通话中，请先选择移交、保留或待定"
		}
	case InHandOver, InKeep, InUndetermined:
		return "当前不在三方通话中，无法移交、保留或待定"
	case InCancel:
		if from == StateThreeWay {
			return "三方通话已建立，请选择移交、保留或待定"
		}
		return "当前没有可取消的转接"
	}
	return fmt.Sprintf("当前状态（%s）不接受该操作（%s）", from, in)
}
