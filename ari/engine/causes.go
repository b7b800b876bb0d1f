package engine

import (
	"strconv"

	"linkctl/sip/sipcause"
)

// hangupReasons maps ARI DELETE /channels reason values to Q.850 causes
// (res/ari/resource_channels.c: convert_reason_to_hangup_code).
var hangupReasons = map[string]int{
	"normal":             16,
	"busy":               17,
	"congestion":         34,
	"no_answer":          19,
	"timeout":            18,
	"rejected":           21,
	"unallocated":        1,
	"normal_unspecified": 31,
	"number_incomplete":  28,
	"codec_mismatch":     58,
	"interworking":       127,
	"failure":            38,
	"answered_elsewhere": 26,
}

// HangupCause resolves the reason / reason_code parameters of DELETE /channels/{id}
// into a Q.850 cause, with Asterisk's 400 answers for bad input.
func HangupCause(reason, reasonCode string) (int, error) {
	switch {
	case reason != "" && reasonCode != "":
		return 0, errf(400, "The reason and reason_code can't both be specified")
	case reasonCode != "":
		n, err := strconv.Atoi(reasonCode)
		if err != nil || n < 0 {
			return 0, errf(400, "Invalid reason for hangup reason code provided")
		}
		return n, nil
	case reason == "":
		return 16, nil
	}
	c, ok := hangupReasons[reason]
	if !ok {
		return 0, errf(400, "Invalid reason for hangup reason provided")
	}
	return c, nil
}

// techCause is the SIP status Asterisk reports as tech_cause for a cause (none for normal clearing).
func techCause(cause int) (int, bool) {
	if cause == 16 || cause == 0 {
		return 0, false
	}
	st, _ := sipcause.ToSIP(cause)
	return st, true
}

// dialStatus is the Dial event's final dialstatus for a failure cause.
func dialStatus(cause int) string {
	switch cause {
	case 17:
		return "BUSY"
	case 18, 19, 16:
		return "NOANSWER"
	case 34, 42:
		return "CONGESTION"
	default:
		return "CHANUNAVAIL"
	}
}

// causeFields are ChannelDestroyed's cause, cause_txt and tech_cause.
func causeFields(cause int, m map[string]any) {
	m["cause"] = cause
	m["cause_txt"] = sipcause.Text(cause)
	if tc, ok := techCause(cause); ok {
		m["tech_cause"] = tc
	}
}
