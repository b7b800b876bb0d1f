package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"linkctl/callflow"
	"linkctl/config"
)

// FlagsHeader is the inbound SIP header (as kept in CallRecord.InboundHeaders)
// whose comma-separated values are a call's confidentiality flags, e.g. "涉案,涉稳".
const FlagsHeader = "X-Linkage-Flags"

// Policy is the 110 side's restricted-knowledge policy (涉密、涉稳、涉恐、涉案、
// 重大敏感). It decides which records and pushes are restricted and what of them
// the 12345 side may see. The zero Policy restricts only records marked
// Confidential and shares nothing of them but their id.
type Policy struct {
	categories   []string
	flags        map[string]bool
	recordFields map[string]bool
	pushFields   map[string]bool
}

// NewPolicy builds the policy from configuration.
func NewPolicy(c config.ConfidentialityConfig) *Policy {
	p := &Policy{
		flags:        map[string]bool{},
		recordFields: map[string]bool{"id": true},
		pushFields:   map[string]bool{"id": true},
	}
	for _, c := range c.RestrictedCategories {
		if c = strings.TrimSpace(c); c != "" {
			p.categories = append(p.categories, c)
		}
	}
	for _, f := range c.RestrictedFlags {
		p.flags[strings.TrimSpace(f)] = true
	}
	for _, f := range c.RecordFields12345 {
		p.recordFields[f] = true
	}
	for _, f := range c.PushFields12345 {
		p.pushFields[f] = true
	}
	return p
}

// CategoryRestricted reports whether a matters-list name ("大类/小类") is
// restricted, either by itself or through its 大类.
func (p *Policy) CategoryRestricted(category string) bool {
	if p == nil || category == "" {
		return false
	}
	for _, c := range p.categories {
		if category == c || strings.HasPrefix(category, c+"/") {
			return true
		}
	}
	return false
}

// FlagsRestricted reports whether any of the flags is restricted.
func (p *Policy) FlagsRestricted(flags []string) bool {
	if p == nil {
		return false
	}
	for _, f := range flags {
		if p.flags[strings.TrimSpace(f)] {
			return true
		}
	}
	return false
}

// RecordRestricted reports whether a call record is under restricted knowledge:
// marked Confidential by the controller, in a restricted category (of the call
// or of any transfer), or flagged through FlagsHeader.
func (p *Policy) RecordRestricted(rec callflow.CallRecord) bool {
	if rec.Confidential {
		return true
	}
	if p.CategoryRestricted(rec.Category) {
		return true
	}
	for _, t := range rec.Transfers {
		if p.CategoryRestricted(t.Category) {
			return true
		}
	}
	return p.FlagsRestricted(RecordFlags(rec))
}

// RecordFlags returns the confidentiality flags a record carries in FlagsHeader.
func RecordFlags(rec callflow.CallRecord) []string {
	v := rec.InboundHeaders[FlagsHeader]
	if v == "" {
		return nil
	}
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '，' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// PushRestricted reports whether a push is under restricted knowledge.
func (p *Policy) PushRestricted(ps Push) bool {
	return p.CategoryRestricted(ps.Category) || p.FlagsRestricted(ps.Flags)
}

// Document is one JSON object as it leaves linkctl: field name to encoded value.
// A field that the reader may not see is not in the map at all.
type Document map[string]json.RawMessage

// RedactFor is the single redaction step of every outbound path: ticket-system
// delivery of call records, of pushes and of push feedback, and the API's
// answers to 12345-side readers. v is a callflow.CallRecord or a Push (or a
// pointer to one). For the 110 side, and for items that are not restricted,
// the document is complete; a restricted item read by the 12345 side keeps
// only the fields the policy allows, the others are absent (not blank).
func (p *Policy) RedactFor(platform callflow.Platform, v any) (Document, error) {
	var (
		restricted bool
		allowed    map[string]bool
	)
	switch x := v.(type) {
	case callflow.CallRecord:
		restricted, allowed = p.RecordRestricted(x), p.allowedRecord()
	case *callflow.CallRecord:
		restricted, allowed = p.RecordRestricted(*x), p.allowedRecord()
	case Push:
		restricted, allowed = x.Restricted || p.PushRestricted(x), p.allowedPush()
	case *Push:
		restricted, allowed = x.Restricted || p.PushRestricted(*x), p.allowedPush()
	default:
		return nil, fmt.Errorf("redact: unsupported type %T", v)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("redact: encode %T: %w", v, err)
	}
	var doc Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("redact: decode %T: %w", v, err)
	}
	if platform == callflow.Platform110 || !restricted {
		return doc, nil
	}
	for k := range doc {
		if !allowed[k] {
			delete(doc, k)
		}
	}
	return doc, nil
}

func (p *Policy) allowedRecord() map[string]bool {
	if p == nil {
		return map[string]bool{"id": true}
	}
	return p.recordFields
}

func (p *Policy) allowedPush() map[string]bool {
	if p == nil {
		return map[string]bool{"id": true}
	}
	return p.pushFields
}

// RedactFor applies the store's policy; see Policy.RedactFor.
func (s *Store) RedactFor(platform callflow.Platform, v any) (Document, error) {
	return s.policy.RedactFor(platform, v)
}

// Policy returns the store's confidentiality policy.
func (s *Store) Policy() *Policy { return s.policy }
