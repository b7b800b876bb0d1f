package callflow

import (
	"encoding/hex"
	"strings"
)

// Metadata that travels with a leg to the other platform. Each item is written twice:
// as a channel variable (LINKCTL_*, read back by linkctl itself, also after a restart)
// and as a SIP header on the INVITE, set Asterisk's way with PJSIP_HEADER(add,<name>)
// in the originate variables. The receiving side reads the headers on StasisStart with
// PJSIP_HEADER(read,<name>); an absent header answers 500 and is simply not there.
const (
	HeaderCallID    = "X-Linkage-Call-Id"   // linkctl call id of the citizen call
	HeaderTicket    = "X-Linkage-Ticket"    // ticket id of the origin platform (12345 工单号 or 110 警单号)
	HeaderCategory  = "X-Linkage-Category"  // matters-list category "大类/小类", raw UTF-8 (as Asterisk sends it, trace t03)
	HeaderOrigin    = "X-Linkage-Origin"    // origin platform: 12345 or 110
	HeaderAgent     = "X-Linkage-Agent"     // origin agent (endpoint resource, e.g. a12345-1001)
	HeaderMode      = "X-Linkage-Mode"      // one-key, three-way or emergency
	HeaderEmergency = "X-Linkage-Emergency" // "1" for an emergency hand-over, else "0"
	// HeaderFlags carries a call's confidentiality flags, comma separated (e.g. "涉案,涉稳").
	// It may come in on any call (the 110 side's own system sets it), not only on linkage legs.
	HeaderFlags = "X-Linkage-Flags"
	HeaderUUI   = "User-to-User" // ticket id, hex encoded, ";encoding=hex" (RFC 7433)
)

// MetadataHeaders is the order in which headers are written and read.
var MetadataHeaders = []string{HeaderCallID, HeaderTicket, HeaderCategory, HeaderOrigin, HeaderAgent, HeaderMode, HeaderEmergency, HeaderFlags, HeaderUUI}

// Channel variables linkctl stamps on the legs it controls (restart recovery reads them).
const (
	VarCallID     = "LINKCTL_CALL_ID"
	VarRole       = "LINKCTL_ROLE"
	VarTransferID = "LINKCTL_TRANSFER_ID"
	VarTicket     = "LINKCTL_TICKET"
	VarCategory   = "LINKCTL_CATEGORY"
	VarOrigin     = "LINKCTL_ORIGIN"
	VarAgent      = "LINKCTL_AGENT"
	VarMode       = "LINKCTL_MODE"
	VarEmergency  = "LINKCTL_EMERGENCY"
	VarPlatform   = "LINKCTL_PLATFORM"
	VarFlags      = "LINKCTL_FLAGS"
)

// Metadata is what a transfer leg carries.
type Metadata struct {
	CallID, TransferID, Ticket, Category, Agent string
	Origin                                      Platform
	Role                                        LegRole
	Mode                                        TransferMode
	Emergency                                   bool
	// Flags are the call's confidentiality flags as received (HeaderFlags), sent on unchanged.
	Flags string
}

// Variables returns the originate variables: LINKCTL_* channel variables and the
// PJSIP_HEADER(add,...) entries. Empty values are left out.
func (m Metadata) Variables() map[string]string {
	emergency := "0"
	if m.Emergency {
		emergency = "1"
	}
	v := map[string]string{}
	set := func(chanVar, header, value string) {
		if value == "" {
			return
		}
		if chanVar != "" {
			v[chanVar] = value
		}
		if header != "" {
			v["PJSIP_HEADER(add,"+header+")"] = value
		}
	}
	set(VarCallID, HeaderCallID, m.CallID)
	set(VarTransferID, "", m.TransferID)
	set(VarRole, "", string(m.Role))
	set(VarTicket, HeaderTicket, m.Ticket)
	set(VarCategory, HeaderCategory, m.Category)
	set(VarOrigin, HeaderOrigin, string(m.Origin))
	set(VarAgent, HeaderAgent, m.Agent)
	set(VarMode, HeaderMode, string(m.Mode))
	if m.Mode != "" {
		set(VarEmergency, HeaderEmergency, emergency)
	}
	set(VarFlags, HeaderFlags, m.Flags)
	if m.Ticket != "" {
		v["PJSIP_HEADER(add,"+HeaderUUI+")"] = EncodeUUI(m.Ticket)
	}
	return v
}

// EncodeUUI encodes a ticket id as a User-to-User header value.
func EncodeUUI(ticket string) string {
	return strings.ToUpper(hex.EncodeToString([]byte(ticket))) + ";encoding=hex"
}

// DecodeUUI decodes a User-to-User value written by EncodeUUI (other encodings are returned as is).
func DecodeUUI(v string) string {
	data, params, _ := strings.Cut(v, ";")
	if !strings.Contains(strings.ToLower(params), "encoding=hex") {
		return v
	}
	b, err := hex.DecodeString(data)
	if err != nil {
		return v
	}
	return string(b)
}

// ParseFlags splits a HeaderFlags value into its flags (separated by ",", "，" or ";").
func ParseFlags(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '，' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
