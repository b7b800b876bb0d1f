package sipcause

import "testing"

// Final responses chan_pjsip sent for DELETE /channels/{id}?reason=... on an
// unanswered inbound call (trace t15-hangup-reasons-unanswered-inbound) and for
// "no Stasis app" (t13-ws-none-inbound).
func TestToSIPMatchesTraces(t *testing.T) {
	tests := []struct {
		name       string
		cause      int
		wantStatus int
		wantPhrase string
	}{
		{"normal", NormalClearing, 603, "Decline"},
		{"busy", UserBusy, 486, "Busy Here"},
		{"congestion", Congestion, 503, "Service Unavailable"},
		{"no_answer", NoAnswer, 480, "Temporarily Unavailable"},
		{"rejected", CallRejected, 403, "Forbidden"},
		{"reason_code=1", Unallocated, 404, "Not Found"},
		{"reason_code=3", NoRouteDestination, 404, "Not Found"},
		{"no response", NoUserResponse, 408, "Request Timeout"},
		{"unknown cause", 99, 603, "Decline"},
		{"bearer", BearerNotAvailable, 488, "Not Acceptable Here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := ToSIP(tt.cause)
			if s != tt.wantStatus || p != tt.wantPhrase {
				t.Fatalf("ToSIP(%d) = %d %q, want %d %q", tt.cause, s, p, tt.wantStatus, tt.wantPhrase)
			}
		})
	}
}

// Causes Asterisk reported in ChannelDestroyed for failure responses to an
// originate (t05: 486 -> 17 "User busy") and the rest of the table.
func TestFromSIP(t *testing.T) {
	tests := []struct {
		status    int
		wantCause int
		wantText  string
	}{
		{486, 17, "User busy"},
		{600, 17, "User busy"},
		{480, 19, "User alerting, no answer"},
		{408, 18, "No user responding"},
		{603, 21, "Call Rejected"},
		{403, 21, "Call Rejected"},
		{404, 1, "Unallocated (unassigned) number"},
		{503, 34, "Circuit/channel congestion"},
		{488, 58, "Bearer capability not available"},
		{487, 127, "Interworking, unspecified"},
		{499, 127, "Interworking, unspecified"},
		{599, 34, "Circuit/channel congestion"},
		{699, 21, "Call Rejected"},
	}
	for _, tt := range tests {
		c := FromSIP(tt.status)
		if c != tt.wantCause || Text(c) != tt.wantText {
			t.Errorf("FromSIP(%d) = %d %q, want %d %q", tt.status, c, Text(c), tt.wantCause, tt.wantText)
		}
	}
}

// Every status the switch sends for a cause must come back as a cause of the
// same meaning when a peer sends it to us, except the deliberate asymmetries
// chan_pjsip has (16 leaves as 603 but 603 arrives as 21; 408 is 18 both ways).
func TestTableRoundTrip(t *testing.T) {
	asymmetric := map[int]int{
		NormalClearing:     CallRejected,
		NoRouteDestination: Unallocated,
		SubscriberAbsent:   NoAnswer,
		NormalUnspecified:  NoAnswer,
		NetworkOutOfOrder:  TemporaryFailure,
		SwitchCongestion:   Congestion,
		IncompatibleDest:   BearerNotAvailable,
		Interworking:       TemporaryFailure,
	}
	for _, r := range table {
		s, _ := ToSIP(r.cause)
		want := r.cause
		if a, ok := asymmetric[r.cause]; ok {
			want = a
		}
		if got := FromSIP(s); got != want {
			t.Errorf("cause %d -> SIP %d -> cause %d, want %d", r.cause, s, got, want)
		}
	}
}

func TestReason(t *testing.T) {
	if got := ReasonHeader(19); got != "Q.850;cause=19" {
		t.Fatalf("ReasonHeader(19) = %q", got)
	}
	tests := []struct {
		in     string
		want   int
		wantOK bool
	}{
		{"Q.850;cause=16", 16, true},
		{`Q.850 ; cause=17 ;text="User busy"`, 17, true},
		{"q.850;text=x;cause=21", 21, true},
		{"SIP;cause=200;text=\"Call completed elsewhere\"", 0, false},
		{"Q.850", 0, false},
		{"Q.850;cause=", 0, false},
		{"Q.850;cause=999", 0, false},
		{"Q.850;cause=-1", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseReason(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseReason(%q) = %d,%v want %d,%v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
