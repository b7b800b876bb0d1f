package sipcause

import (
	"strconv"
	"strings"
)

// Q.850 causes the switch uses by name.
const (
	Unallocated         = 1
	NoRouteDestination  = 3
	NormalClearing      = 16
	UserBusy            = 17
	NoUserResponse      = 18
	NoAnswer            = 19
	SubscriberAbsent    = 20
	CallRejected        = 21
	NumberChanged       = 22
	DestOutOfOrder      = 27
	InvalidNumberFormat = 28
	FacilityRejected    = 29
	NormalUnspecified   = 31
	Congestion          = 34
	NetworkOutOfOrder   = 38
	TemporaryFailure    = 41
	SwitchCongestion    = 42
	BearerNotAvailable  = 58
	IncompatibleDest    = 88
	RecoveryOnTimer     = 102
	Interworking        = 127
)

// row is one line of the map. toSIP is the status sent when the switch ends
// an unanswered inbound call with cause (0: the cause is not sent that way);
// fromSIP lists the statuses that, received on an outbound call, mean cause.
type row struct {
	cause   int
	text    string
	toSIP   int
	fromSIP []int
}

// table is the single source of truth; both directions are derived from it.
// Status mapping follows res_pjsip_session's hangup_cause2sip and
// ast_sip_hangup_sip2cause, checked against traces t05, t13 and t15.
var table = []row{
	{Unallocated, "Unallocated (unassigned) number", 404, []int{404, 485, 604}},
	{NoRouteDestination, "No route to destination", 404, []int{420}},
	{NormalClearing, "Normal Clearing", 603, nil},
	{UserBusy, "User busy", 486, []int{486, 600}},
	{NoUserResponse, "No user responding", 408, []int{408}},
	{NoAnswer, "User alerting, no answer", 480, []int{480, 483}},
	{SubscriberAbsent, "Subscriber absent", 480, nil},
	{CallRejected, "Call Rejected", 403, []int{401, 403, 407, 603}},
	{NumberChanged, "Number changed", 410, []int{410}},
	{DestOutOfOrder, "Destination out of order", 502, []int{502}},
	{InvalidNumberFormat, "Invalid number format", 484, []int{484}},
	{FacilityRejected, "Facility rejected", 501, []int{501}},
	{NormalUnspecified, "Normal, unspecified", 480, nil},
	{Congestion, "Circuit/channel congestion", 503, []int{503}},
	{NetworkOutOfOrder, "Network out of order", 500, nil},
	{TemporaryFailure, "Temporary failure", 500, []int{409, 500}},
	{SwitchCongestion, "Switching equipment congestion", 503, nil},
	{BearerNotAvailable, "Bearer capability not available", 488, []int{488, 606}},
	{IncompatibleDest, "Incompatible destination", 488, nil},
	{RecoveryOnTimer, "Recovery on timer expiry", 504, []int{504}},
	{Interworking, "Interworking, unspecified", 500, []int{405, 411, 413, 414, 415, 481, 482, 487, 491, 493, 505}},
}

var (
	byCause = map[int]*row{}
	bySIP   = map[int]int{}
	reasons = map[int]string{}
)

func init() {
	for i := range table {
		r := &table[i]
		byCause[r.cause] = r
		for _, s := range r.fromSIP {
			bySIP[s] = r.cause
		}
	}
	for code, phrase := range map[int]string{
		400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
		408: "Request Timeout", 410: "Gone", 480: "Temporarily Unavailable",
		481: "Call/Transaction Does Not Exist", 484: "Address Incomplete", 486: "Busy Here",
		487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error",
		501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
		504: "Server Time-out", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
		606: "Not Acceptable",
	} {
		reasons[code] = phrase
	}
}

// ToSIP is the final response status (and its reason phrase) that ends an
// unanswered inbound call with Q.850 cause. Unknown causes give 603 Decline,
// as chan_pjsip does.
func ToSIP(cause int) (status int, phrase string) {
	status = 603
	if r, ok := byCause[cause]; ok && r.toSIP != 0 {
		status = r.toSIP
	}
	return status, Phrase(status)
}

// FromSIP is the Q.850 cause of a final failure response to an outbound INVITE.
// Statuses outside the table map by class: 4xx interworking, 5xx congestion,
// 6xx call rejected.
func FromSIP(status int) int {
	if c, ok := bySIP[status]; ok {
		return c
	}
	switch {
	case status >= 600:
		return CallRejected
	case status >= 500:
		return Congestion
	default:
		return Interworking
	}
}

// Text is the ARI cause_txt of a Q.850 cause ("Unknown" for causes outside the table).
func Text(cause int) string {
	if r, ok := byCause[cause]; ok {
		return r.text
	}
	return "Unknown"
}

// Phrase is the standard reason phrase of a SIP status.
func Phrase(status int) string {
	if p, ok := reasons[status]; ok {
		return p
	}
	switch {
	case status >= 600:
		return "Global Failure"
	case status >= 500:
		return "Server Error"
	default:
		return "Request Failure"
	}
}

// ReasonHeader is the value of the Reason header carrying cause, as chan_pjsip
// writes it on CANCEL, BYE and final responses: "Q.850;cause=16".
func ReasonHeader(cause int) string { return "Q.850;cause=" + strconv.Itoa(cause) }

// ParseReason reads the Q.850 cause out of a Reason header value such as
// `Q.850;cause=17;text="User busy"`. It reports false for other protocols
// (e.g. "SIP;cause=200") and for malformed values.
func ParseReason(v string) (cause int, ok bool) {
	proto, params, found := strings.Cut(strings.TrimSpace(v), ";")
	if !found || !strings.EqualFold(strings.TrimSpace(proto), "Q.850") {
		return 0, false
	}
	for _, p := range strings.Split(params, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "cause") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n <= 0 || n > 127 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
