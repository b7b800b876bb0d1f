package callflow

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"linkctl/config"
)

// Limits on the X-Linkage-* metadata kept from an inbound call.
const (
	// MaxInboundValue caps every inbound X-Linkage-* value in bytes; a longer
	// value is dropped whole (a cut ticket or category would be wrong, not short).
	MaxInboundValue = 128
	// MaxInboundFlags caps how many confidentiality flags a call keeps.
	MaxInboundFlags = 8
)

// Trust is how far an inbound call's X-Linkage-* headers are believed.
type Trust int

const (
	// TrustNone: a caller that is not a configured linkage peer. Only its
	// confidentiality flags are kept (known flag words only): a restricting flag
	// can only hide more, so it is safe to honour from anyone.
	TrustNone Trust = iota + 1
	// TrustPeer: a configured linkage peer (controller.linkage_peers). Its
	// metadata is kept once each value passes its check.
	TrustPeer
)

func (t Trust) String() string {
	switch t {
	case TrustNone:
		return "none"
	case TrustPeer:
		return "peer"
	}
	return fmt.Sprintf("Trust(%d)", int(t))
}

// TrustOf returns the trust of an inbound call from endpoint ("PJSIP/to110",
// as endpointOf gives it from the StasisStart channel name) under the
// configured linkage peers. The technology compares case-insensitively.
func TrustOf(endpoint string, peers []string) Trust {
	tech, res, ok := strings.Cut(endpoint, "/")
	if !ok || res == "" {
		return TrustNone
	}
	for _, p := range peers {
		pt, pr, ok := strings.Cut(p, "/")
		if ok && strings.EqualFold(pt, tech) && pr == res {
			return TrustPeer
		}
	}
	return TrustNone
}

// Inbound is the metadata an arriving call keeps once its headers are checked.
type Inbound struct {
	// Headers go on the record (CallRecord.InboundHeaders): checked values only.
	Headers   map[string]string
	CallID    string   // origin call id (linkage legs only)
	Ticket    string   // the origin platform's ticket id, from X-Linkage-Ticket or User-to-User
	Category  string   // matters-list name "大类/小类" of the direction into this platform
	Origin    Platform // the other platform, when it says so
	Emergency bool
	// Flags are the known confidentiality flags received, at most MaxInboundFlags.
	Flags []string
	// Dropped says which received headers were not kept and why (for the log).
	Dropped []Drop
}

// Drop is one inbound header not kept.
type Drop struct {
	Header, Why string
	Size        int // bytes received
}

// CheckInbound decides what an inbound call keeps of its raw headers (name ->
// value as read; absent headers are absent). arrival is the platform the call
// came in on; known tells a known confidentiality flag word. From TrustNone
// only flags are kept; from TrustPeer the linkage metadata is kept when the
// call id is present and valid, each other value on its own check: the
// category must be in matters for the direction into arrival, the ticket must
// pass ValidTicket, origin must be the other platform, emergency only into 110.
func CheckInbound(raw map[string]string, trust Trust, arrival Platform, matters *config.Matters, known func(string) bool) Inbound {
	in := Inbound{Headers: map[string]string{}}
	drop := func(h, why string) {
		in.Dropped = append(in.Dropped, Drop{Header: h, Why: why, Size: len(raw[h])})
	}
	if v, ok := raw[HeaderFlags]; ok {
		in.Flags = knownFlags(v, known)
		if len(in.Flags) > 0 {
			in.Headers[HeaderFlags] = strings.Join(in.Flags, ",")
		}
		if n := len(ParseFlags(v)); n > len(in.Flags) {
			drop(HeaderFlags, fmt.Sprintf("kept %d of %d flags (known words only, at most %d)", len(in.Flags), n, MaxInboundFlags))
		}
	}
	linkage := slices.DeleteFunc(slices.Clone(MetadataHeaders), func(h string) bool { return h == HeaderFlags })
	if trust != TrustPeer {
		for _, h := range linkage {
			if _, ok := raw[h]; ok {
				drop(h, "caller is not a linkage peer")
			}
		}
		return in
	}
	callID, ok := raw[HeaderCallID]
	if !ok {
		return in
	}
	if why := tokenProblem(callID); why != "" {
		drop(HeaderCallID, why)
		for _, h := range linkage[1:] {
			if _, ok := raw[h]; ok {
				drop(h, "no valid "+HeaderCallID)
			}
		}
		return in
	}
	in.CallID = callID
	in.Headers[HeaderCallID] = callID

	other := arrival.Other()
	if v, ok := raw[HeaderOrigin]; ok {
		if Platform(v) == other {
			in.Origin = other
			in.Headers[HeaderOrigin] = v
		} else {
			drop(HeaderOrigin, fmt.Sprintf("want %s for a call into %s", other, arrival))
		}
	}
	if v, ok := raw[HeaderCategory]; ok {
		dir := string(DirectionFrom(other))
		switch {
		case len(v) > MaxInboundValue:
			drop(HeaderCategory, fmt.Sprintf("longer than %d bytes", MaxInboundValue))
		case matters == nil:
			drop(HeaderCategory, "no matters list loaded")
		default:
			if row, err := matters.Lookup(dir, v); err == nil {
				in.Category = row.Name()
				in.Headers[HeaderCategory] = in.Category
			} else {
				drop(HeaderCategory, "not a "+dir+" matter")
			}
		}
	}
	ticket := func(h, v string) string {
		if len(v) > MaxInboundValue {
			drop(h, fmt.Sprintf("longer than %d bytes", MaxInboundValue))
			return ""
		}
		t := v
		if h == HeaderUUI {
			t = DecodeUUI(v)
		}
		if err := ValidTicket(t); err != nil {
			drop(h, err.Error())
			return ""
		}
		in.Headers[h] = v
		return t
	}
	if v, ok := raw[HeaderTicket]; ok {
		in.Ticket = ticket(HeaderTicket, v)
	}
	if v, ok := raw[HeaderUUI]; ok {
		if t := ticket(HeaderUUI, v); in.Ticket == "" {
			in.Ticket = t
		}
	}
	if v, ok := raw[HeaderAgent]; ok {
		if why := tokenProblem(v); why != "" {
			drop(HeaderAgent, why)
		} else {
			in.Headers[HeaderAgent] = v
		}
	}
	if v, ok := raw[HeaderMode]; ok {
		switch TransferMode(v) {
		case ModeOneKey, ModeThreeWay, ModeEmergency:
			in.Headers[HeaderMode] = v
		default:
			drop(HeaderMode, "not one-key, three-way or emergency")
		}
	}
	if v, ok := raw[HeaderEmergency]; ok {
		switch {
		case v == "0":
			in.Headers[HeaderEmergency] = v
		case v == "1" && arrival == Platform110:
			in.Emergency = true
			in.Headers[HeaderEmergency] = v
		case v == "1":
			drop(HeaderEmergency, "an emergency hand-over goes to 110 only")
		default:
			drop(HeaderEmergency, "want 0 or 1")
		}
	}
	return in
}

// knownFlags keeps the known flag words of a HeaderFlags value, each once, at
// most MaxInboundFlags.
func knownFlags(v string, known func(string) bool) []string {
	var out []string
	for _, f := range ParseFlags(v) {
		if len(out) == MaxInboundFlags {
			break
		}
		if known != nil && known(f) && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// tokenProblem checks an identifier-like value (call id, agent): 1..MaxInboundValue
// bytes of printable ASCII without spaces, quotes or angle brackets.
func tokenProblem(v string) string {
	switch {
	case v == "":
		return "empty"
	case len(v) > MaxInboundValue:
		return fmt.Sprintf("longer than %d bytes", MaxInboundValue)
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"'<>&\`, r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return fmt.Sprintf("character %q not allowed", r)
	}
	return ""
}

// knownFlag tells a known confidentiality flag word: the policy's five
// (config.DefaultRestrictedFlags) and any configured restricted flag.
func (c *Controller) knownFlag(f string) bool {
	return c.restrict[f] || slices.Contains(config.DefaultRestrictedFlags, f)
}
