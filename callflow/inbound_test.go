package callflow

import (
	"strings"
	"testing"

	"linkctl/config"
)

func TestTrustOf(t *testing.T) {
	peers := []string{"PJSIP/to110", "Sim/to12345"}
	tests := []struct {
		endpoint string
		want     Trust
	}{
		{"PJSIP/to110", TrustPeer},
		{"pjsip/to110", TrustPeer},
		{"Sim/to12345", TrustPeer},
		{"PJSIP/To110", TrustNone}, // resource names are case-sensitive
		{"PJSIP/citizen", TrustNone},
		{"PJSIP/to1100", TrustNone},
		{"to110", TrustNone},
		{"", TrustNone},
	}
	for _, tt := range tests {
		if got := TrustOf(tt.endpoint, peers); got != tt.want {
			t.Errorf("TrustOf(%q) = %v, want %v", tt.endpoint, got, tt.want)
		}
	}
	if got := TrustOf("PJSIP/to110", nil); got != TrustNone {
		t.Errorf("no peers configured: %v", got)
	}
	// endpointOf turns a StasisStart channel name into what TrustOf compares.
	if got := TrustOf(endpointOf("PJSIP/to110-00000003"), peers); got != TrustPeer {
		t.Errorf("channel PJSIP/to110-00000003: %v", got)
	}
}

func TestCheckInbound(t *testing.T) {
	m, err := config.LoadMatters("")
	if err != nil {
		t.Fatal(err)
	}
	known := func(f string) bool { return f == "涉密" || f == "涉案" || f == "涉稳" }
	cat110 := m.Names(string(Dir12345To110))[0]   // a category of calls arriving at 110
	cat12345 := m.Names(string(Dir110To12345))[0] // a category of calls arriving at 12345
	full := func(origin, cat string) map[string]string {
		return map[string]string{
			HeaderCallID: "lk1-c7", HeaderOrigin: origin, HeaderCategory: cat, HeaderTicket: "JQ-2026-1",
			HeaderAgent: "a110-2001", HeaderMode: "one-key", HeaderEmergency: "0",
		}
	}
	type want struct {
		headers   map[string]string
		category  string
		ticket    string
		origin    Platform
		emergency bool
		flags     string
		dropped   []string // headers dropped, in order
	}
	tests := []struct {
		name    string
		raw     map[string]string
		trust   Trust
		arrival Platform
		want    want
	}{
		{
			name: "peer: everything valid kept", trust: TrustPeer, arrival: Platform12345,
			raw:  full("110", cat12345),
			want: want{headers: full("110", cat12345), category: cat12345, ticket: "JQ-2026-1", origin: Platform110},
		},
		{
			name: "stranger: linkage metadata ignored", trust: TrustNone, arrival: Platform12345,
			raw:  map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "110", HeaderCategory: cat12345, HeaderTicket: "JQ-1", HeaderEmergency: "1"},
			want: want{headers: map[string]string{}, dropped: []string{HeaderCallID, HeaderTicket, HeaderCategory, HeaderOrigin, HeaderEmergency}},
		},
		{
			name: "stranger: restricting flag honoured, unknown words dropped", trust: TrustNone, arrival: Platform12345,
			raw:  map[string]string{HeaderFlags: "加急,涉密, <b>x</b>"},
			want: want{headers: map[string]string{HeaderFlags: "涉密"}, flags: "涉密", dropped: []string{HeaderFlags}},
		},
		{
			name: "peer: category outside the direction's list and HTML dropped", trust: TrustPeer, arrival: Platform12345,
			raw: map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "110", HeaderCategory: "<script>x</script>", HeaderTicket: "JQ-1"},
			want: want{headers: map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "110", HeaderTicket: "JQ-1"},
				ticket: "JQ-1", origin: Platform110, dropped: []string{HeaderCategory}},
		},
		{
			name: "peer: category of the other direction dropped", trust: TrustPeer, arrival: Platform12345,
			raw:  map[string]string{HeaderCallID: "lk1-c7", HeaderCategory: cat110},
			want: want{headers: map[string]string{HeaderCallID: "lk1-c7"}, dropped: []string{HeaderCategory}},
		},
		{
			name: "peer: origin must be the other platform", trust: TrustPeer, arrival: Platform110,
			raw:  map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "110", HeaderTicket: "GD-1"},
			want: want{headers: map[string]string{HeaderCallID: "lk1-c7", HeaderTicket: "GD-1"}, ticket: "GD-1", dropped: []string{HeaderOrigin}},
		},
		{
			name: "peer: emergency only into 110", trust: TrustPeer, arrival: Platform12345,
			raw:  map[string]string{HeaderCallID: "lk1-c7", HeaderEmergency: "1"},
			want: want{headers: map[string]string{HeaderCallID: "lk1-c7"}, dropped: []string{HeaderEmergency}},
		},
		{
			name: "peer: emergency into 110", trust: TrustPeer, arrival: Platform110,
			raw: map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "12345", HeaderEmergency: "1", HeaderMode: "emergency", HeaderCategory: cat110},
			want: want{headers: map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "12345", HeaderEmergency: "1", HeaderMode: "emergency", HeaderCategory: cat110},
				origin: Platform12345, emergency: true, category: cat110},
		},
		{
			name: "peer: over-long and invalid values dropped", trust: TrustPeer, arrival: Platform12345,
			raw: map[string]string{HeaderCallID: "lk1-c7", HeaderTicket: strings.Repeat("J", 200), HeaderAgent: "a 1<x>",
				HeaderMode: "transfer-all", HeaderEmergency: "yes", HeaderUUI: EncodeUUI("GD 1")},
			want: want{headers: map[string]string{HeaderCallID: "lk1-c7"},
				dropped: []string{HeaderTicket, HeaderUUI, HeaderAgent, HeaderMode, HeaderEmergency}},
		},
		{
			name: "peer: ticket from User-to-User", trust: TrustPeer, arrival: Platform110,
			raw: map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "12345", HeaderUUI: EncodeUUI("GD-2026-000123")},
			want: want{headers: map[string]string{HeaderCallID: "lk1-c7", HeaderOrigin: "12345", HeaderUUI: EncodeUUI("GD-2026-000123")},
				ticket: "GD-2026-000123", origin: Platform12345},
		},
		{
			name: "peer: invalid call id drops the rest", trust: TrustPeer, arrival: Platform12345,
			raw:  map[string]string{HeaderCallID: strings.Repeat("x", 129), HeaderTicket: "JQ-1", HeaderFlags: "涉案"},
			want: want{headers: map[string]string{HeaderFlags: "涉案"}, flags: "涉案", dropped: []string{HeaderCallID, HeaderTicket}},
		},
		{
			name: "flags: at most 8 known, each once", trust: TrustPeer, arrival: Platform12345,
			raw:  map[string]string{HeaderFlags: strings.Repeat("涉密,", 3) + "涉案," + strings.Repeat("垃圾,", 5000)},
			want: want{headers: map[string]string{HeaderFlags: "涉密,涉案"}, flags: "涉密,涉案", dropped: []string{HeaderFlags}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckInbound(tt.raw, tt.trust, tt.arrival, m, known)
			if len(got.Headers) != len(tt.want.headers) {
				t.Fatalf("headers %v, want %v", got.Headers, tt.want.headers)
			}
			for k, v := range tt.want.headers {
				if got.Headers[k] != v {
					t.Fatalf("header %s = %q, want %q (all %v)", k, got.Headers[k], v, got.Headers)
				}
			}
			if got.Category != tt.want.category || got.Ticket != tt.want.ticket || got.Origin != tt.want.origin || got.Emergency != tt.want.emergency {
				t.Fatalf("category %q ticket %q origin %q emergency %v, want %+v", got.Category, got.Ticket, got.Origin, got.Emergency, tt.want)
			}
			if f := strings.Join(got.Flags, ","); f != tt.want.flags {
				t.Fatalf("flags %q, want %q", f, tt.want.flags)
			}
			var dropped []string
			for _, d := range got.Dropped {
				dropped = append(dropped, d.Header)
				if d.Why == "" {
					t.Errorf("drop of %s without a reason", d.Header)
				}
			}
			if strings.Join(dropped, " ") != strings.Join(tt.want.dropped, " ") {
				t.Fatalf("dropped %v, want %v (%+v)", dropped, tt.want.dropped, got.Dropped)
			}
			for k, v := range got.Headers {
				if len(v) > MaxInboundValue {
					t.Errorf("header %s kept %d bytes", k, len(v))
				}
			}
		})
	}
}
