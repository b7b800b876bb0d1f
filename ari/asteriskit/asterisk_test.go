package asteriskit

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"linkctl/ari/trace"
	"linkctl/ari/trace/tracetest"
)

func TestAsteriskIs22WithARITransferHandling(t *testing.T) {
	tg := targetFromEnv(t)
	c := connect(t, tg)
	var info struct {
		System struct {
			Version string `json:"version"`
		} `json:"system"`
	}
	if err := json.Unmarshal(c.must(200, "GET", "/asterisk/info", nil, nil), &info); err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(info.System.Version, ".", 3)
	minor, _ := strconv.Atoi(strings.SplitN(parts[min(1, len(parts)-1)], "-", 2)[0])
	if parts[0] != "22" || minor < 3 {
		t.Fatalf("Asterisk %q: linkctl needs 22.3 or later (ChannelTransfer, PJSIP_TRANSFER_HANDLING)", info.System.Version)
	}
	t.Logf("Asterisk %s", info.System.Version)
}

// t16: ids chosen by the client are used verbatim; reusing a live id is 409;
// an ARI hangup is HangupRequest(32, soft) -> StasisEnd -> ChannelDestroyed.
func TestOriginateWithChosenIDsAndHangup(t *testing.T) {
	tg := targetFromEnv(t)
	c := connect(t, tg)
	id := newID(t, "ch")
	ss := c.originate(tg.answer, id, "outbound,12345", nil)
	if !reflect.DeepEqual(ss.Args, []string{"outbound", "12345"}) {
		t.Errorf("StasisStart args %v, want [outbound 12345]", ss.Args)
	}
	st, b := c.do("POST", "/channels", url.Values{"endpoint": {tg.answer}, "app": {tg.app}, "channelId": {id}}, nil)
	if st != 409 || errBody(t, b)["message"] != "Channel with given unique ID already exists" {
		t.Errorf("reused channelId: %d %s, want 409 as in t16", st, b)
	}
	var ch struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal(c.must(200, "GET", "/channels/"+id, nil, nil), &ch); err != nil || ch.ID != id || ch.State != "Up" {
		t.Errorf("GET channel: %+v %v, want Up with id %s", ch, err, id)
	}
	st, _ = c.do("DELETE", "/channels/"+id, url.Values{"reason": {"bogus"}}, nil)
	if st != 400 {
		t.Errorf("DELETE with reason=bogus: %d, want 400 (t12)", st)
	}
	c.forget()
	c.must(204, "DELETE", "/channels/"+id, nil, nil)
	hr := c.await(10*time.Second, "ChannelHangupRequest", isType("ChannelHangupRequest", id))
	if hr.Cause == nil || *hr.Cause != 32 || hr.Soft == nil || !*hr.Soft {
		t.Errorf("ARI hangup request %s, want cause 32 soft true", hr.raw)
	}
	c.await(10*time.Second, "ChannelDestroyed", isType("ChannelDestroyed", id))
	if got, want := c.typesSeen(id), []string{"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events after DELETE %v, want %v", got, want)
	}
	st, b = c.do("GET", "/channels/"+id, nil, nil)
	if st != 404 || errBody(t, b)["message"] != "Channel not found" {
		t.Errorf("GET after hangup: %d %s, want 404 Channel not found", st, b)
	}
}

// t11/t12/t16: bridges with chosen ids, membership changes and their errors.
func TestBridgeWithChosenIDs(t *testing.T) {
	tg := targetFromEnv(t)
	c := connect(t, tg)
	bid := newID(t, "br")
	var br struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(c.must(200, "POST", "/bridges", url.Values{"type": {"mixing"}, "bridgeId": {bid}}, nil), &br); err != nil || br.ID != bid {
		t.Fatalf("bridge id %q, want %q", br.ID, bid)
	}
	t.Cleanup(func() { c.do("DELETE", "/bridges/"+bid, nil, nil) })
	if st, _ := c.do("POST", "/bridges", url.Values{"type": {"mixing"}, "bridgeId": {bid}}, nil); st != 409 {
		t.Errorf("duplicate bridgeId: %d, want 409", st)
	}
	if st, _ := c.do("POST", "/bridges/"+bid, url.Values{"type": {"mixing"}}, nil); st != 409 {
		t.Errorf("createWithId on an existing id: %d, want 409", st)
	}
	a, b := newID(t, "a"), newID(t, "b")
	c.originate(tg.answer, a, "outbound,12345", nil)
	c.originate(tg.answer, b, "outbound,110", nil)
	if st, _ := c.do("POST", "/bridges/"+bid+"/addChannel", url.Values{"channel": {"lkit-no-such-channel"}}, nil); st != 400 {
		t.Errorf("addChannel of an unknown channel: %d, want 400 (not 404, t12)", st)
	}
	c.must(204, "POST", "/bridges/"+bid+"/addChannel", url.Values{"channel": {a + "," + b}}, nil)
	c.await(10*time.Second, "ChannelEnteredBridge of "+a, isType("ChannelEnteredBridge", a))
	c.await(10*time.Second, "ChannelEnteredBridge of "+b, isType("ChannelEnteredBridge", b))
	other := newID(t, "br")
	c.must(200, "POST", "/bridges/"+other, url.Values{"type": {"mixing"}}, nil)
	t.Cleanup(func() { c.do("DELETE", "/bridges/"+other, nil, nil) })
	if st, _ := c.do("POST", "/bridges/"+other+"/removeChannel", url.Values{"channel": {a}}, nil); st != 422 {
		t.Errorf("removeChannel of a channel in another bridge: %d, want 422", st)
	}
	// removeChannel leaves the channel up and in Stasis (t11).
	c.forget()
	c.must(204, "POST", "/bridges/"+bid+"/removeChannel", url.Values{"channel": {b}}, nil)
	c.await(10*time.Second, "ChannelLeftBridge of "+b, isType("ChannelLeftBridge", b))
	c.must(200, "GET", "/channels/"+b, nil, nil)
	// Hanging up a bridged channel: HangupRequest, LeftBridge, StasisEnd, Destroyed (t16).
	c.forget()
	c.must(204, "DELETE", "/channels/"+a, nil, nil)
	c.await(10*time.Second, "ChannelDestroyed of "+a, isType("ChannelDestroyed", a))
	if got, want := c.typesSeen(a), []string{"ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd", "ChannelDestroyed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("bridged hangup events %v, want %v", got, want)
	}
	c.must(204, "DELETE", "/bridges/"+bid, nil, nil)
	c.await(10*time.Second, "BridgeDestroyed", func(e event) bool { return e.Type == "BridgeDestroyed" && e.Bridge != nil && e.Bridge.ID == bid })
	if st, _ := c.do("GET", "/bridges/"+bid, nil, nil); st != 404 {
		t.Errorf("GET destroyed bridge: %d, want 404", st)
	}
}

// errorCase is a request whose answer does not depend on state, with the
// trace line that recorded it on Asterisk 22.11.
type errorCase struct {
	name         string
	method, path string
	query        url.Values
	status       int
	bodyKey      string // "message" or "error"
	body         string
	trace        string
	line         int
}

var errorCases = []errorCase{
	{"unknown channel GET", "GET", "/channels/lkit-no-such-channel", nil, 404, "message", "Channel not found", "t12-errors", 2},
	{"unknown channel DELETE", "DELETE", "/channels/lkit-no-such-channel", nil, 404, "message", "Channel not found", "t12-errors", 3},
	{"originate without endpoint", "POST", "/channels", url.Values{"app": {"linkctl-it"}}, 400, "", "", "t12-errors", 30},
	{"unknown technology", "POST", "/channels", url.Values{"endpoint": {"FOO/bar"}, "app": {"linkctl-it"}}, 500, "error", "Allocation failed", "t12-errors", 31},
	{"unknown bridge type", "POST", "/bridges", url.Values{"type": {"no-such-type"}}, 500, "", "", "t12-errors", 14},
	{"unknown bridge", "GET", "/bridges/lkit-no-such-bridge", nil, 404, "message", "Bridge not found", "t12-errors", 15},
	{"unknown playback", "DELETE", "/playbacks/lkit-no-such-playback", nil, 404, "", "", "t12-errors", 39},
}

// The table above must say what the traces recorded (runs without Asterisk).
func TestErrorTableMatchesTraces(t *testing.T) {
	dir := tracetest.Traces(t)
	for _, ec := range errorCases {
		tr, err := trace.Load(dir, ec.trace)
		if err != nil {
			t.Fatal(err)
		}
		var x *trace.Exchange
		for _, h := range tr.HTTP() {
			if h.Line == ec.line {
				h := h
				x = &h
			}
		}
		if x == nil || x.Method != ec.method || x.Status != ec.status {
			t.Errorf("%s: trace %s line %d is %+v, table says %s %d", ec.name, ec.trace, ec.line, x, ec.method, ec.status)
			continue
		}
		if ec.bodyKey != "" {
			var m map[string]string
			if err := json.Unmarshal(x.Response, &m); err != nil || m[ec.bodyKey] != ec.body {
				t.Errorf("%s: recorded body %s, table says %s=%q", ec.name, x.Response, ec.bodyKey, ec.body)
			}
		}
	}
}

func TestErrorAnswersMatchTraces(t *testing.T) {
	tg := targetFromEnv(t)
	c := connect(t, tg)
	for _, ec := range errorCases {
		t.Run(ec.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range ec.query {
				q[k] = v
			}
			if q.Get("app") != "" {
				q.Set("app", tg.app)
			}
			st, b := c.do(ec.method, ec.path, q, nil)
			if st != ec.status {
				t.Fatalf("%d %s, want %d", st, b, ec.status)
			}
			if ec.bodyKey != "" && errBody(t, b)[ec.bodyKey] != ec.body {
				t.Errorf("body %s, want %s=%q", b, ec.bodyKey, ec.body)
			}
		})
	}
	// An endpoint that does not exist is an allocation failure too (t06).
	st, b := c.do("POST", "/channels", url.Values{"endpoint": {"PJSIP/lkit-no-such-endpoint"}, "app": {tg.app}}, nil)
	if st != 500 || errBody(t, b)["error"] != "Allocation failed" {
		t.Errorf("originate to an unknown PJSIP endpoint: %d %s, want 500 Allocation failed (t06)", st, b)
	}
	c.quiet(500*time.Millisecond, "failed requests must not produce events")
}

// t13: the application outlives its websocket; nothing is replayed on reconnect.
func TestWebsocketReconnectReplaysNothing(t *testing.T) {
	tg := targetFromEnv(t)
	c := connect(t, tg)
	id := newID(t, "ws")
	c.originate(tg.answer, id, "outbound,12345", nil)
	c.reconnect()
	var app struct {
		ChannelIDs []string `json:"channel_ids"`
	}
	if err := json.Unmarshal(c.must(200, "GET", "/applications/"+tg.app, nil, nil), &app); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ch := range app.ChannelIDs {
		found = found || ch == id
	}
	if !found {
		t.Errorf("application %s lists channels %v, want %s still there", tg.app, app.ChannelIDs, id)
	}
	c.quiet(time.Second, "nothing may be replayed after a reconnect")
	c.forget()
	c.must(204, "DELETE", "/channels/"+id, nil, nil)
	first := c.await(10*time.Second, "an event after DELETE", func(e event) bool { return e.Type != "ChannelVarset" })
	if first.Type != "ChannelHangupRequest" || first.channelID() != id {
		t.Errorf("first event after reconnect %s for %s, want ChannelHangupRequest for %s", first.Type, first.channelID(), id)
	}
}

func sipTarget(t *testing.T) (target, *conn) {
	tg := targetFromEnv(t)
	if tg.sip == "" {
		t.Skipf("PJSIP check skipped: set %s to an auto-answering PJSIP endpoint (e.g. PJSIP/a12345-1001)", envSIP)
	}
	return tg, connect(t, tg)
}

// t15: DELETE ?reason= on an answered PJSIP leg sets the Q.850 cause that
// ChannelDestroyed reports.
func TestHangupReasonBecomesCause(t *testing.T) {
	tg, c := sipTarget(t)
	tests := []struct {
		q     url.Values
		cause int
	}{
		{url.Values{"reason": {"normal"}}, 16},
		{url.Values{"reason": {"busy"}}, 17},
		{url.Values{"reason": {"congestion"}}, 34},
		{url.Values{"reason": {"no_answer"}}, 19},
		{url.Values{"reason_code": {"21"}}, 21},
	}
	for _, tc := range tests {
		t.Run(tc.q.Encode(), func(t *testing.T) {
			id := newID(t, "hc")
			c.originate(tg.sip, id, "outbound,12345", nil)
			c.must(204, "DELETE", "/channels/"+id, tc.q, nil)
			d := c.await(10*time.Second, "ChannelDestroyed", isType("ChannelDestroyed", id))
			if d.Cause == nil || *d.Cause != tc.cause {
				t.Errorf("ChannelDestroyed %s, want cause %d", d.raw, tc.cause)
			}
		})
	}
}

// t03: metadata headers go out via PJSIP_HEADER(add,...) variables on
// originate; reading them back on the originated leg is a 500, so linkctl
// must never rely on it.
func TestPJSIPHeaderOnOriginate(t *testing.T) {
	tg, c := sipTarget(t)
	id := newID(t, "hd")
	body := map[string]any{"variables": map[string]string{
		"PJSIP_HEADER(add,X-Linkage-Ticket)":   "GD-IT-000001",
		"PJSIP_HEADER(add,X-Linkage-Category)": "社会治安类/犬类管理",
		"PJSIP_HEADER(add,User-to-User)":       "47442D49542D303030303031;encoding=hex",
		"PJSIP_TRANSFER_HANDLING()":            "ari-only",
	}}
	c.originate(tg.sip, id, "outbound,110", body)
	st, b := c.do("GET", "/channels/"+id+"/variable", url.Values{"variable": {"PJSIP_HEADER(read,X-Linkage-Ticket)"}}, nil)
	if st != 500 || errBody(t, b)["message"] != "Unable to read provided function" {
		t.Errorf("reading an added header back: %d %s, want 500 Unable to read provided function (t03)", st, b)
	}
	st, _ = c.do("GET", "/channels/"+id+"/variable", url.Values{"variable": {"LKIT_NO_SUCH_VAR"}}, nil)
	if st != 404 {
		t.Errorf("unknown variable: %d, want 404 (t12)", st)
	}
	c.must(204, "POST", "/channels/"+id+"/variable", url.Values{"variable": {"LINKCTL_STATE"}, "value": {"transfer=1;phase=ringing"}}, nil)
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(c.must(200, "GET", "/channels/"+id+"/variable", url.Values{"variable": {"LINKCTL_STATE"}}, nil), &v); err != nil || v.Value != "transfer=1;phase=ringing" {
		t.Errorf("state stamp read back %q (%v)", v.Value, err)
	}
}
