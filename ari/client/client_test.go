package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5/client/native"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/websocket"

	"linkctl/ari/trace/tracetest"
	"linkctl/callflow"
)

// traceDir is the shared Asterisk traces folder (LINKCTL_SHARED or ../shared
// beside the clone); missing, the test skips, or fails when
// LINKCTL_REQUIRE_SHARED=1.
func traceDir(t *testing.T) string {
	t.Helper()
	return tracetest.Traces(t)
}

// TestDecodeEveryTraceEvent decodes every event Asterisk 22 sent in the traces.
func TestDecodeEveryTraceEvent(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(traceDir(t), "*.events.jsonl"))
	if len(files) == 0 {
		t.Fatal("no traces")
	}
	counts := map[string]int{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			ev, err := Decode(sc.Bytes())
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
				continue
			}
			if ev == nil {
				continue
			}
			counts[strings.TrimPrefix(strings.Split(strings.TrimPrefix(typeName(ev), "callflow."), "{")[0], "")]++
			if ev.ChannelIDOf() == "" {
				t.Errorf("%s: %T without channel id", filepath.Base(f), ev)
			}
		}
		fh.Close()
	}
	for _, want := range []string{"StasisStart", "StasisEnd", "HangupRequest", "ChannelDestroyed", "DialStatus", "EnteredBridge", "DTMFReceived", "PlaybackFinished", "TransferRequested"} {
		if counts[want] == 0 {
			t.Errorf("no %s decoded from the traces: %v", want, counts)
		}
	}
}

func typeName(ev callflow.Event) string {
	switch ev.(type) {
	case callflow.StasisStart:
		return "StasisStart"
	case callflow.StasisEnd:
		return "StasisEnd"
	case callflow.HangupRequest:
		return "HangupRequest"
	case callflow.ChannelDestroyed:
		return "ChannelDestroyed"
	case callflow.DialStatus:
		return "DialStatus"
	case callflow.EnteredBridge:
		return "EnteredBridge"
	case callflow.LeftBridge:
		return "LeftBridge"
	case callflow.DTMFReceived:
		return "DTMFReceived"
	case callflow.PlaybackFinished:
		return "PlaybackFinished"
	case callflow.TransferRequested:
		return "TransferRequested"
	case callflow.ChannelStateChange:
		return "ChannelStateChange"
	}
	return "other"
}

func TestDecodeSpecificTraceFacts(t *testing.T) {
	dir := traceDir(t)
	find := func(file, typ string, n int) callflow.Event {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, `"type":"`+typ+`"`) {
				continue
			}
			if seen == n {
				ev, err := Decode([]byte(line))
				if err != nil {
					t.Fatal(err)
				}
				return ev
			}
			seen++
		}
		t.Fatalf("%s: no %s #%d", file, typ, n)
		return nil
	}
	if ev := find("t04-originate-noanswer.events.jsonl", "ChannelDestroyed", 0).(callflow.ChannelDestroyed); ev.Cause != 19 || ev.CauseText != "User alerting, no answer" {
		t.Errorf("t04 ChannelDestroyed %+v", ev)
	}
	if ev := find("t01-inbound-answer-caller-hangup.events.jsonl", "StasisStart", 0).(callflow.StasisStart); len(ev.Args) != 2 || ev.Args[0] != "inbound" || ev.Args[1] != "12345" || ev.State != "Ring" {
		t.Errorf("t01 StasisStart %+v", ev)
	}
	tr := find("t14-refer-ari-only-progress-answered.events.jsonl", "ChannelTransfer", 0).(callflow.TransferRequested)
	if tr.Destination != "110" || tr.ChannelID != "linkctl-pbx-1796315898.30" || tr.ConnectedChannel != "linkctl-pbx-1796315898.29" || tr.BridgeID == "" {
		t.Errorf("t14 ChannelTransfer %+v", tr)
	}
	// The echo with a state is not a new request.
	data, _ := os.ReadFile(filepath.Join(dir, "t14-refer-ari-only-progress-answered.events.jsonl"))
	for _, line := range strings.Split(string(data), "\n") {
		var top struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal([]byte(line), &top)
		if strings.Contains(line, `"type":"ChannelTransfer"`) && top.State != "" {
			if ev, _ := Decode([]byte(line)); ev != nil {
				t.Errorf("ChannelTransfer echo decoded as %+v", ev)
			}
		}
	}
	if ev := find("t02-originate-bridge-2party.events.jsonl", "Dial", 0).(callflow.DialStatus); ev.ChannelID == "" {
		t.Errorf("Dial without peer: %+v", ev)
	}
}

func TestClassifyARIErrors(t *testing.T) {
	tests := []struct {
		status int
		path   string
		body   string
		want   error
	}{
		{404, "/channels/x", `{"message":"Channel not found"}`, callflow.ErrChannelGone},
		{404, "/bridges/x", `{"message":"Bridge not found"}`, callflow.ErrBridgeGone},
		{404, "/channels/x/variable", `{"message":"Provided variable was not found"}`, callflow.ErrNoSuchVariable},
		{404, "/playbacks/p", `{"message":"Playback not found"}`, callflow.ErrChannelGone},
		{400, "/bridges/b/addChannel", `{"message":"Channel not found"}`, callflow.ErrChannelGone},
		{400, "/channels", `{"message":"Endpoint must be specified"}`, callflow.ErrBadRequest},
		{409, "/channels", `{"message":"Channel with given unique ID already exists"}`, callflow.ErrConflict},
		{409, "/bridges", `{"message":"Bridge with id 'x' already exists"}`, callflow.ErrConflict},
		{422, "/bridges/b/removeChannel", `{"message":"Channel not in this bridge"}`, callflow.ErrNotInStasis},
		{500, "/channels", `{"error":"Allocation failed"}`, callflow.ErrAllocationFailed},
		{500, "/channels/x/variable", `{"message":"Unable to read provided function"}`, callflow.ErrNoSuchVariable},
		{500, "/bridges", `{"message":"Unable to create bridge"}`, callflow.ErrPBXInternal},
		{404, "/endpoints/PJSIP/to110", `{"message":"Endpoint not found"}`, callflow.ErrNoSuchEndpoint},
	}
	for _, tt := range tests {
		got := classify(tt.status, tt.path, errorMessage([]byte(tt.body)))
		if got != tt.want {
			t.Errorf("%d %s %s: %v, want %v", tt.status, tt.path, tt.body, got, tt.want)
		}
	}
}

// TestRESTErrorsAndDeadline runs real HTTP on loopback: error bodies become typed
// errors with the PBX message, and a hanging PBX is cut off by the request deadline.
func TestRESTErrorsAndDeadline(t *testing.T) {
	var gotQuery, gotBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "linkctl" || p != "secret" {
			w.WriteHeader(401)
			return
		}
		switch {
		case r.URL.Path == "/ari/channels" && r.Method == "POST":
			gotQuery.Store(r.URL.RawQuery)
			var b map[string]map[string]string
			_ = json.NewDecoder(r.Body).Decode(&b)
			gotBody.Store(b["variables"]["PJSIP_HEADER(add,X-Linkage-Category)"])
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"error":"Allocation failed"}`))
		case strings.HasSuffix(r.URL.Path, "/answer"):
			time.Sleep(500 * time.Millisecond)
		default:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"message":"Channel not found"}`))
		}
	}))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL + "/ari", Username: "linkctl", Password: "secret", Application: "linkctl", RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = c.Originate(ctx, callflow.OriginateRequest{ChannelID: "lk-1", Endpoint: "PJSIP/nobody", AppArgs: []string{"outbound", "agent-110"},
		Timeout: 30 * time.Second, Variables: map[string]string{"PJSIP_HEADER(add,X-Linkage-Category)": "社会治安类/犬类管理"}})
	var pe *callflow.PBXError
	if !errors.Is(err, callflow.ErrAllocationFailed) || !errors.As(err, &pe) || pe.Message != "Allocation failed" || pe.Status != 500 {
		t.Errorf("originate: %v", err)
	}
	q, _ := gotQuery.Load().(string)
	for _, want := range []string{"channelId=lk-1", "app=linkctl", "appArgs=outbound%2Cagent-110", "timeout=30", "endpoint=PJSIP%2Fnobody"} {
		if !strings.Contains(q, want) {
			t.Errorf("originate query %q lacks %q", q, want)
		}
	}
	if v, _ := gotBody.Load().(string); v != "社会治安类/犬类管理" {
		t.Errorf("variables body carried %q", v)
	}
	if err := c.Hangup(ctx, "gone", "normal"); !errors.Is(err, callflow.ErrChannelGone) {
		t.Errorf("hangup: %v", err)
	}
	// The PBX sleeps 500 ms; the 100 ms request deadline must cut the call off.
	if err := c.Answer(ctx, "slow"); !errors.Is(err, callflow.ErrPBXUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("answer on a hanging PBX: %v", err)
	}
}

// TestEventsReconnect: the socket drops; the client reconnects and says so.
func TestEventsReconnect(t *testing.T) {
	var conns atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/ari/events", websocket.Handler(func(ws *websocket.Conn) {
		n := conns.Add(1)
		_ = websocket.Message.Send(ws, `{"type":"StasisStart","args":["inbound","12345"],"channel":{"id":"c`+string(rune('0'+n))+`","name":"PJSIP/citizen-00000001","state":"Ring","caller":{"name":"","number":"139"}},"application":"linkctl"}`)
		if n == 1 {
			return // drop the first connection
		}
		<-ws.Request().Context().Done()
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, _ := New(Options{URL: srv.URL + "/ari", Username: "u", Password: "p", Application: "linkctl", ReconnectMin: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	var got []string
	timeout := time.After(3 * time.Second)
	for len(got) < 4 {
		select {
		case ev := <-c.Events():
			switch e := ev.(type) {
			case callflow.Connected:
				got = append(got, map[bool]string{false: "connected", true: "reconnected"}[e.Reconnect])
			case callflow.StasisStart:
				got = append(got, e.ChannelID+"/"+e.CallerNumber)
			}
		case <-timeout:
			t.Fatalf("got only %v", got)
		}
	}
	want := []string{"connected", "c1/139", "reconnected", "c2/139"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	cancel()
	<-done
	if _, ok := <-c.Events(); ok {
		t.Error("events channel not closed after Run")
	}
}

func TestJitterBounds(t *testing.T) {
	for i := 0; i < 100; i++ {
		if j := jitter(time.Second); j < 500*time.Millisecond || j > time.Second {
			t.Fatalf("jitter %v out of [0.5s, 1s]", j)
		}
	}
}

func TestRouteLibraryLogs(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	RouteLibraryLogs(zap.New(core))
	native.Logger.Error("failed to connect to Asterisk", "error", "boom")
	if logs.Len() != 1 || logs.All()[0].Message != "failed to connect to Asterisk" || logs.All()[0].ContextMap()["error"] != "boom" {
		t.Errorf("library log not routed: %v", logs.All())
	}
	RouteLibraryLogs(zap.NewNop())
}
