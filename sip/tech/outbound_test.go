package tech

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"linkctl/ari/engine"
	"linkctl/config"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func agentConfig() config.SIPConfig {
	cfg := testConfig()
	cfg.Accounts = []config.SIPAccount{
		{Username: "a110-2001", Password: "pw-2001", Platform: "110", AgentID: "2001"},
		{Username: "a12345-1001", Password: "pw-1001", Platform: "12345", AgentID: "1001", DTMFMode: "info"},
	}
	return cfg
}

// Digest REGISTER: challenge, wrong password refused, right one binds the
// contact; the endpoint goes online, then offline when the binding expires.
func TestRegisterDigest(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	tc := startTech(t, agentConfig(), newFakeEngine(), clock.Now)
	phone := newPeer(t, "a110-2001")

	res, err := phone.register(tc, "", 120)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("unauthenticated REGISTER = %v %v, want 401", res, err)
	}
	if ch := header(res, "WWW-Authenticate"); !strings.Contains(ch, `realm="linkctl"`) || !strings.Contains(ch, "nonce=") {
		t.Fatalf("challenge %q", ch)
	}
	res, err = phone.register(tc, "wrong", 120)
	if err != nil || res.StatusCode != 403 {
		t.Fatalf("wrong password = %v %v, want 403", res, err)
	}
	if tc.Exists("a110-2001") {
		t.Fatal("endpoint exists before a successful REGISTER")
	}
	res, err = phone.register(tc, "pw-2001", 120)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER = %v %v, want 200", res, err)
	}
	if got := header(res, "Expires"); got != "120" {
		t.Fatalf("Expires = %q", got)
	}
	if !tc.Exists("a110-2001") || tc.Exists("a12345-1001") || tc.Exists("nobody") {
		t.Fatal("Exists wrong after REGISTER")
	}
	if st := endpointState(tc, "a110-2001"); st != "online" {
		t.Fatalf("state %q", st)
	}
	stranger := newPeer(t, "nobody")
	if res, err := stranger.register(tc, "x", 120); err != nil || res.StatusCode != 404 {
		t.Fatalf("unknown account REGISTER = %v %v, want 404", res, err)
	}
	if res, err := phone.register(tc, "pw-2001", 10); err != nil || res.StatusCode != 423 || header(res, "Min-Expires") != "60" {
		t.Fatalf("too brief REGISTER = %v %v, want 423 Min-Expires 60", res, err)
	}

	clock.add(121 * time.Second)
	if tc.Exists("a110-2001") {
		t.Fatal("endpoint still dialable after its registration expired")
	}
	if st := endpointState(tc, "a110-2001"); st != "offline" {
		t.Fatalf("state after expiry %q", st)
	}
}

func endpointState(tc *Tech, res string) string {
	for _, e := range tc.Endpoints() {
		if e.Resource == res {
			return e.State
		}
	}
	return "absent"
}

func registeredPhone(t *testing.T, tc *Tech, user, pw string) *peer {
	t.Helper()
	p := newPeer(t, user)
	if res, err := p.register(tc, pw, 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER %s: %v %v", user, res, err)
	}
	return p
}

// Originate to a registered 110 agent with PJSIP_HEADER(add,...) headers:
// the INVITE carries them verbatim (trace t03-originate-headers), 180 ->
// Ringing, 200 -> ACK + Answered, hangup -> BYE with the Q.850 Reason.
func TestOutboundAnsweredWithHeaders(t *testing.T) {
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	phone := registeredPhone(t, tc, "a110-2001", "pw-2001")
	phone.answerWith(180, 200)

	ch := newFakeChan("out-1")
	hdrs := []engine.Header{
		{Name: "X-Linkage-Ticket", Value: "GD-2026-000123"},
		{Name: "X-Linkage-Category", Value: "社会治安类/犬类管理"},
		{Name: "User-to-User", Value: FormatUserToUser([]byte("GD-2026-000123"))},
	}
	err := tc.Dial(context.Background(), ch, "a110-2001", engine.DialOptions{CallerIDName: "linkctl", CallerIDNumber: "110", Headers: hdrs})
	if err != nil {
		t.Fatal(err)
	}
	inv := phone.await(gotRequest(sip.INVITE), "INVITE")
	for _, h := range hdrs {
		if got := header(inv, h.Name); got != h.Value {
			t.Fatalf("INVITE %s = %q, want %q", h.Name, got, h.Value)
		}
	}
	if got := header(inv, "User-to-User"); got != "47442D323032362D303030313233;encoding=hex" {
		t.Fatalf("User-to-User = %q", got)
	}
	if from := inv.(*sip.Request).From(); from.Address.User != "110" || from.DisplayName != "linkctl" {
		t.Fatalf("From = %s", from.Value())
	}
	if inv.(*sip.Request).Recipient.User != "a110-2001" {
		t.Fatalf("Request-URI %s", inv.(*sip.Request).Recipient.String())
	}
	ch.expect(t, "ringing")
	ch.expect(t, "answered")
	phone.await(gotRequest(sip.ACK), "ACK")
	if ch.mediaPort() == nil {
		t.Fatal("no media after answer")
	}
	if err := tc.Hangup(ch, 17); err != nil {
		t.Fatal(err)
	}
	bye := phone.await(gotRequest(sip.BYE), "BYE")
	if got := header(bye, "Reason"); got != "Q.850;cause=17" {
		t.Fatalf("BYE Reason = %q", got)
	}
	ch.expectNone(t, 50*time.Millisecond)
	waitNoDialogs(t, tc)
}

// Failure responses become the mapped cause (t05: 486 -> 17 "User busy").
func TestOutboundFailures(t *testing.T) {
	tests := []struct {
		status    int
		wantCause string
	}{
		{486, "hangup:17"},
		{480, "hangup:19"},
		{603, "hangup:21"},
		{404, "hangup:1"},
		{503, "hangup:34"},
	}
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	phone := registeredPhone(t, tc, "a110-2001", "pw-2001")
	for _, tt := range tests {
		t.Run(itoa(tt.status), func(t *testing.T) {
			phone.answerWith(tt.status)
			ch := newFakeChan("out-" + itoa(tt.status))
			if err := tc.Dial(context.Background(), ch, "a110-2001", engine.DialOptions{}); err != nil {
				t.Fatal(err)
			}
			ch.expect(t, tt.wantCause)
			waitNoDialogs(t, tc)
		})
	}
}

// Hanging up a ringing outbound leg sends CANCEL with the Reason (t04: 19,
// t08: 16); the engine is not told again.
func TestOutboundCancelReason(t *testing.T) {
	for _, cause := range []int{19, 16} {
		t.Run(itoa(cause), func(t *testing.T) {
			tc := startTech(t, agentConfig(), newFakeEngine(), nil)
			phone := registeredPhone(t, tc, "a110-2001", "pw-2001")
			phone.answerWith(180)
			ch := newFakeChan("out")
			if err := tc.Dial(context.Background(), ch, "a110-2001", engine.DialOptions{}); err != nil {
				t.Fatal(err)
			}
			ch.expect(t, "ringing")
			if err := tc.Hangup(ch, cause); err != nil {
				t.Fatal(err)
			}
			if err := tc.Hangup(ch, 99); err != nil { // idempotent
				t.Fatal(err)
			}
			c := phone.await(gotRequest(sip.CANCEL), "CANCEL")
			if got := header(c, "Reason"); got != "Q.850;cause="+itoa(cause) {
				t.Fatalf("CANCEL Reason = %q", got)
			}
			phone.await(sentResponse(sip.INVITE, 487), "487 for the INVITE")
			if n := phone.count(gotRequest(sip.CANCEL)); n != 1 {
				t.Fatalf("%d CANCELs", n)
			}
			ch.expectNone(t, 100*time.Millisecond)
			waitNoDialogs(t, tc)
		})
	}
}

// Dial strings that cannot be dialled fail at once (Allocation failed).
func TestDialUnavailable(t *testing.T) {
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	for _, res := range []string{"a110-2001", "nobody", "", "a/b", "110@nobody"} {
		if tc.Exists(res) {
			t.Errorf("Exists(%q) = true", res)
		}
		if err := tc.Dial(context.Background(), newFakeChan("x"), res, engine.DialOptions{}); err == nil {
			t.Errorf("Dial(%q) succeeded", res)
		}
	}
	if err := tc.Dial(context.Background(), newFakeChan("x"), "a110-2001", engine.DialOptions{}); !strings.Contains(err.Error(), "not registered") {
		t.Errorf("Dial to unregistered: %v", err)
	}
}

func dialOpts() engine.DialOptions { return engine.DialOptions{CallerIDNumber: "110"} }
