package callflow

import (
	"fmt"
	"strings"
	"time"
)

// Key is a softkey (the Key field of Softkey records uses the same names).
type Key string

const (
	KeyTransfer     Key = "transfer"     // 一键转接
	KeyThreeWay     Key = "three-way"    // 三方通话
	KeyHandOver     Key = "hand-over"    // 移交
	KeyKeep         Key = "keep"         // 保留
	KeyUndetermined Key = "undetermined" // 待定
	KeyCancel       Key = "cancel"       // 取消
	KeyEmergency    Key = "emergency"    // 紧急转110
)

// Keys lists every softkey.
var Keys = []Key{KeyTransfer, KeyThreeWay, KeyHandOver, KeyKeep, KeyUndetermined, KeyCancel, KeyEmergency}

func (k Key) input() (Input, bool) {
	switch k {
	case KeyTransfer:
		return InTransfer, true
	case KeyThreeWay:
		return InThreeWay, true
	case KeyHandOver:
		return InHandOver, true
	case KeyKeep:
		return InKeep, true
	case KeyUndetermined:
		return InUndetermined, true
	case KeyCancel:
		return InCancel, true
	case KeyEmergency:
		return InEmergency, true
	}
	return 0, false
}

// Softkey sources.
const (
	SourceDTMF  = "dtmf"
	SourceHTTP  = "http"
	SourceRefer = "refer"
)

// SoftkeyRequest is one softkey press from an agent desktop (HTTP), a DTMF feature
// code or the phone's transfer key. CallID or ChannelID (the agent's or caller's
// channel) names the call. Agent (id "a110-2001" or endpoint "PJSIP/a110-2001") and
// an agent ChannelID name who pressed: the call acts only for an agent connected
// with the citizen now, else Softkey fails with ErrNotConnected.
type SoftkeyRequest struct {
	CallID    string `json:"call_id,omitempty"`
	ChannelID string `json:"channel_id,omitempty"`
	Agent     string `json:"agent,omitempty"`
	Key       Key    `json:"key"`
	TicketID  string `json:"ticket_id,omitempty"`
	Category  string `json:"category,omitempty"` // "大类/小类" of the matters list (not needed for emergency)
	Emergency bool   `json:"emergency,omitempty"`
	Source    string `json:"source,omitempty"`
}

// SoftkeyResult is the controller's answer. A refused request has Accepted false and
// a zh-CN Reason for the agent; a repeated press of the softkey already in progress
// is accepted once and reported as Duplicate.
type SoftkeyResult struct {
	Accepted   bool   `json:"accepted"`
	Reason     string `json:"reason,omitempty"`
	CallID     string `json:"call_id,omitempty"`
	TransferID string `json:"transfer_id,omitempty"`
	Duplicate  bool   `json:"duplicate,omitempty"`
	State      string `json:"state,omitempty"`
}

// featureDecoder turns an agent channel's DTMF digits into softkeys. Codes such as
// "*1" start with a digit that is otherwise passed through; a started code that is
// not completed within interDigit is dropped.
type featureDecoder struct {
	codes      map[string]Key
	interDigit time.Duration
	buf        string
	last       time.Time
}

func newFeatureDecoder(codes map[string]string, interDigit time.Duration) *featureDecoder {
	d := &featureDecoder{codes: map[string]Key{}, interDigit: interDigit}
	for name, code := range codes {
		if code != "" {
			d.codes[code] = Key(name)
		}
	}
	return d
}

// feed takes one digit; it returns a softkey when a code completes.
func (d *featureDecoder) feed(digit string, now time.Time) (Key, bool) {
	if d.buf != "" && now.Sub(d.last) > d.interDigit {
		d.buf = ""
	}
	d.last = now
	d.buf += digit
	for {
		if k, ok := d.codes[d.buf]; ok {
			d.buf = ""
			return k, true
		}
		if d.isPrefix(d.buf) {
			return "", false
		}
		// Not a code: drop the oldest digit and try the rest (e.g. "**1").
		if len(d.buf) <= 1 {
			d.buf = ""
			return "", false
		}
		d.buf = d.buf[1:]
	}
}

func (d *featureDecoder) isPrefix(s string) bool {
	for code := range d.codes {
		if strings.HasPrefix(code, s) {
			return true
		}
	}
	return false
}

func (r SoftkeyRequest) String() string {
	return fmt.Sprintf("%s by %s via %s", r.Key, r.Agent, r.Source)
}
