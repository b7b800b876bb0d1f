package trace

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"go.uber.org/zap/zaptest"
	"golang.org/x/net/websocket"
)

func newServer(t *testing.T, name string, opts Options) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t)
	}
	s := NewServer(load(t, name), opts)
	t.Cleanup(s.Close)
	return s
}

func call(t *testing.T, s *Server, method, pathAndQuery, user, pass string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(s.URL(), "/ari")+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, pathAndQuery, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func do(t *testing.T, s *Server, method, pathAndQuery string) (int, []byte) {
	t.Helper()
	return call(t, s, method, pathAndQuery, "linkctl", "linkctl-secret")
}

func dialWS(t *testing.T, s *Server) *websocket.Conn {
	t.Helper()
	cfg, err := websocket.NewConfig(s.WebsocketURL()+"?app=linkctl&subscribeAll=false", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Header.Set("Authorization", "Basic bGlua2N0bDpsaW5rY3RsLXNlY3JldA==")
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("dial event websocket: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

type wsEvent struct {
	Type    string `json:"type"`
	Channel *struct {
		ID string `json:"id"`
	} `json:"channel"`
	Peer *struct {
		ID string `json:"id"`
	} `json:"peer"`
	raw string
}

func (e wsEvent) id() string {
	if e.Channel != nil {
		return e.Channel.ID
	}
	if e.Peer != nil {
		return e.Peer.ID
	}
	return ""
}

// next reads one event; ok is false when the server closed the socket.
func next(t *testing.T, ws *websocket.Conn) (wsEvent, bool) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var msg string
	if err := websocket.Message.Receive(ws, &msg); err != nil {
		if err == io.EOF {
			return wsEvent{}, false
		}
		t.Fatalf("read event: %v", err)
	}
	var e wsEvent
	if err := json.Unmarshal([]byte(msg), &e); err != nil {
		t.Fatalf("event %q: %v", msg, err)
	}
	e.raw = msg
	return e, true
}

// The real ari/v5 client, connected to a replay of t01, answers the inbound
// call; the ChannelStateChange it then sees was released by its own answer.
func TestReplayDrivesAriClient(t *testing.T) {
	s := newServer(t, "t01-inbound-answer-caller-hangup", Options{})
	cl, err := native.Connect(&native.Options{
		Application: "linkctl", URL: s.URL(), WebsocketURL: s.WebsocketURL(),
		Username: "linkctl", Password: "linkctl-secret",
	})
	if err != nil {
		t.Fatalf("ari connect: %v", err)
	}
	// No cl.Close(): in ari v5.3.1 Close and the listen goroutine both write
	// Client.connected unsynchronised (a data race under -race). The client
	// keeps retrying the closed server once a second until the test binary exits.
	_ = cl
	sub := cl.Bus().Subscribe(nil, ari.Events.All)
	defer sub.Cancel()
	s.Start()

	var got []string
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case e := <-sub.Events():
			if e.GetType() == ari.Events.ChannelVarset {
				continue
			}
			got = append(got, e.GetType())
			switch v := e.(type) {
			case *ari.StasisStart:
				if err := cl.Channel().Answer(v.Key(ari.ChannelKey, v.Channel.ID)); err != nil {
					t.Fatalf("answer %s: %v", v.Channel.ID, err)
				}
			case *ari.ChannelStateChange:
				if v.Channel.State != "Up" {
					t.Errorf("state %q after answer, want Up", v.Channel.State)
				}
			case *ari.StasisEnd:
				done = true
			}
		case <-timeout:
			t.Fatalf("timed out; events so far %v", got)
		}
	}
	want := []string{"StasisStart", "ChannelStateChange", "ChannelHangupRequest", "StasisEnd"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", got, want)
	}
	if m := s.Misses(); len(m) != 0 {
		t.Errorf("deviations: %v", m)
	}
	if p := s.Pending(); len(p) != 0 {
		t.Errorf("recorded requests not made: %v", p)
	}
}

// A client that never answers still gets the events, after GateTimeout,
// and the replay reports the missing request.
func TestReplayGateTimeoutReportsMissingRequest(t *testing.T) {
	s := newServer(t, "t01-inbound-answer-caller-hangup", Options{GateTimeout: 100 * time.Millisecond, AutoStart: true})
	ws := dialWS(t, s)
	var types []string
	for len(types) < 4 {
		e, ok := next(t, ws)
		if !ok {
			t.Fatal("socket closed early")
		}
		if e.Type != "ChannelVarset" {
			types = append(types, e.Type)
		}
	}
	ms := s.Misses()
	if len(ms) != 1 || ms[0].Kind != MissGate || !strings.HasSuffix(ms[0].Path, "/answer") {
		t.Fatalf("misses %v, want one gate timeout on the answer", ms)
	}
}

// A client choosing its own ids (t16 used lk-agent-0001) sees its ids in the
// responses and every event.
func TestReplayAliasesClientChosenIDs(t *testing.T) {
	s := newServer(t, "t16-originate-with-ids", Options{AutoStart: true})
	ws := dialWS(t, s)
	st, body := do(t, s, "POST", "/ari/channels?endpoint=PJSIP/a12345-1001&app=linkctl&appArgs=outbound,12345&callerId=linkctl%20%3C12345%3E&channelId=my-agent&otherChannelId=my-agent-b")
	if st != 200 || !strings.Contains(string(body), `"id": "my-agent"`) {
		t.Fatalf("originate: %d %s", st, body)
	}
	if st, _ := do(t, s, "POST", "/ari/channels?endpoint=PJSIP/a12345-1001&app=linkctl&channelId=my-agent"); st != 409 {
		t.Errorf("same channelId again: %d, want 409", st)
	}
	for {
		e, ok := next(t, ws)
		if !ok {
			t.Fatal("socket closed early")
		}
		if strings.Contains(e.raw, "lk-agent-0001") {
			t.Fatalf("recorded id leaked: %s", e.raw)
		}
		if e.id() != "my-agent" {
			t.Fatalf("%s about %q, want my-agent", e.Type, e.id())
		}
		if e.Type == "StasisStart" {
			break
		}
	}
	if st, _ := do(t, s, "DELETE", "/ari/channels/lk-agent-0001"); st != 500 {
		t.Errorf("recorded id after aliasing answered %d, want 500 (not recorded)", st)
	}
	if ms := s.Misses(); len(ms) != 1 || ms[0].Kind != MissRequest {
		t.Errorf("misses %v, want the one unrecorded request", ms)
	}
}

// t13: the server drops the websocket where the recording closed it; on
// reconnect nothing is replayed, the next events are the DELETEs' own.
func TestReplayWebsocketDropAndReconnect(t *testing.T) {
	s := newServer(t, "t13-ws-disconnect", Options{AutoStart: true})
	tr := load(t, "t13-ws-disconnect")
	in, agent := tr.Channels()[0], tr.Channels()[1]
	ws := dialWS(t, s)
	e, _ := next(t, ws)
	if e.Type != "StasisStart" || e.id() != in {
		t.Fatalf("first event %s %s", e.Type, e.id())
	}
	for _, x := range tr.HTTP() {
		if x.At.After(tr.HTTP()[5].At) {
			break
		}
		if x.Mutating() {
			if st, _ := do(t, s, x.Method, x.Path); st != x.Status {
				t.Fatalf("%s %s: %d, recorded %d", x.Method, x.Path, st, x.Status)
			}
		}
	}
	n := 0
	for {
		if _, ok := next(t, ws); !ok {
			break
		}
		n++
	}
	if n < 10 {
		t.Fatalf("session 1 delivered %d events before the drop", n-1)
	}
	if st, b := do(t, s, "GET", "/ari/applications/linkctl"); st != 200 || !strings.Contains(string(b), agent) {
		t.Fatalf("GET application while away: %d %s", st, b)
	}
	ws2 := dialWS(t, s)
	if st, _ := do(t, s, "DELETE", "/ari/channels/"+agent); st != 204 {
		t.Fatalf("DELETE agent: %d", st)
	}
	e, ok := next(t, ws2)
	for ok && e.Type == "ChannelVarset" { // RTP QoS noise precedes the hangup request
		e, ok = next(t, ws2)
	}
	if !ok || e.Type != "ChannelHangupRequest" || e.id() != agent {
		t.Fatalf("first event after reconnect %s %s, want ChannelHangupRequest of %s", e.Type, e.id(), agent)
	}
}

func TestReplayRejectsBadCredentials(t *testing.T) {
	s := newServer(t, "t01-inbound-answer-caller-hangup", Options{})
	if st, _ := call(t, s, "GET", "/ari/asterisk/info", "linkctl", "wrong"); st != 401 {
		t.Fatalf("bad password: %d, want 401", st)
	}
	if st, _ := do(t, s, "GET", "/ari/asterisk/info"); st != 200 {
		t.Fatalf("good password: %d, want 200", st)
	}
	if ms := s.Misses(); len(ms) != 1 || ms[0].Kind != MissAuth {
		t.Fatalf("misses %v", ms)
	}
}

// t02 recorded Asterisk-chosen ids; a controller choosing its own (as linkctl
// does) sees them in responses, paths and events.
func TestReplayBindsIDsChosenAtCreate(t *testing.T) {
	s := newServer(t, "t02-originate-bridge-2party", Options{AutoStart: true})
	tr := load(t, "t02-originate-bridge-2party")
	in := tr.Channels()[0]
	ws := dialWS(t, s)
	if e, _ := next(t, ws); e.Type != "StasisStart" || e.id() != in {
		t.Fatalf("first event %s %s", e.Type, e.id())
	}
	if st, _ := do(t, s, "POST", "/ari/channels/"+in+"/answer"); st != 204 {
		t.Fatalf("answer: %d", st)
	}
	st, body := do(t, s, "POST", "/ari/channels?endpoint=PJSIP/a12345-1001&app=linkctl&appArgs=outbound,12345,"+in+"&channelId=lk-ag-1")
	if st != 200 || !strings.Contains(string(body), `"id": "lk-ag-1"`) {
		t.Fatalf("originate: %d %s", st, body)
	}
	for {
		e, ok := next(t, ws)
		if !ok {
			t.Fatal("socket closed")
		}
		if e.Type == "StasisStart" {
			if e.id() != "lk-ag-1" {
				t.Fatalf("agent StasisStart for %q, want lk-ag-1", e.id())
			}
			break
		}
	}
	st, body = do(t, s, "POST", "/ari/bridges?type=mixing&bridgeId=lk-br-1")
	if st != 200 || !strings.Contains(string(body), `"id": "lk-br-1"`) {
		t.Fatalf("bridge: %d %s", st, body)
	}
	if st, _ := do(t, s, "POST", "/ari/bridges/lk-br-1/addChannel?channel="+in+",lk-ag-1"); st != 204 {
		t.Fatalf("addChannel on the chosen bridge id: %d", st)
	}
	entered := map[string]bool{}
	for len(entered) < 2 {
		e, ok := next(t, ws)
		if !ok {
			t.Fatal("socket closed")
		}
		if e.Type == "ChannelEnteredBridge" {
			if !strings.Contains(e.raw, `"id":"lk-br-1"`) {
				t.Fatalf("ChannelEnteredBridge not about lk-br-1: %s", e.raw)
			}
			entered[e.id()] = true
		}
	}
	if !entered[in] || !entered["lk-ag-1"] {
		t.Errorf("entered %v", entered)
	}
	if ms := s.Misses(); len(ms) != 0 {
		t.Errorf("misses %v", ms)
	}
}

// t13, second session: the agent's ChannelVarset/HangupRequest carry the same
// millisecond as the DELETE that caused them; they must wait for it. A GET
// recorded later than the replay's progress answers as of now.
func TestReplaySameMillisecondCausalityAndGETProgress(t *testing.T) {
	s := newServer(t, "t13-ws-disconnect", Options{AutoStart: true, GateTimeout: time.Minute})
	tr := load(t, "t13-ws-disconnect")
	agent := tr.Channels()[1]
	if st, b := do(t, s, "GET", "/ari/channels"); st != 200 || string(b) != "[]" {
		t.Fatalf("GET /channels before anything happened: %d %s, want []", st, b)
	}
	ws := dialWS(t, s)
	for _, x := range tr.HTTP() {
		if x.Mutating() && x.At.Before(tr.HTTP()[5].At) {
			do(t, s, x.Method, x.Path)
		}
	}
	for {
		if _, ok := next(t, ws); !ok {
			break
		}
	}
	if st, b := do(t, s, "GET", "/ari/channels"); st != 200 || !strings.Contains(string(b), agent) {
		t.Fatalf("GET /channels in the gap: %d %s, want both channels", st, b)
	}
	ws2 := dialWS(t, s)
	_ = ws2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var msg string
	if err := websocket.Message.Receive(ws2, &msg); err == nil {
		t.Fatalf("event before the DELETE that caused it: %s", msg)
	}
	do(t, s, "DELETE", "/ari/channels/"+agent)
	e, ok := next(t, ws2)
	if !ok || e.id() != agent {
		t.Fatalf("after DELETE got %s %s, want the agent's events", e.Type, e.id())
	}
	n := 0
	for _, r := range s.Requests() {
		if r.Method == "DELETE" && r.Status == 204 && r.Line == 14 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Requests() does not show the DELETE answered from line 14: %+v", s.Requests())
	}
}

// Release lets a replay go on when the client will not make the recorded requests.
func TestReplayRelease(t *testing.T) {
	s := newServer(t, "t01-inbound-answer-caller-hangup", Options{AutoStart: true, GateTimeout: time.Minute})
	ws := dialWS(t, s)
	if e, _ := next(t, ws); e.Type != "StasisStart" {
		t.Fatalf("first event %s", e.Type)
	}
	s.Release()
	for e, ok := next(t, ws); e.Type != "StasisEnd"; e, ok = next(t, ws) {
		if !ok {
			t.Fatal("socket closed before StasisEnd")
		}
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after every event was pushed")
	}
}
