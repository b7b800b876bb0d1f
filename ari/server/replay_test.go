package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/ari/trace/tracetest"
)

// traceItem is one line of a trace's merged timeline: a REST request or an event.
type traceItem struct {
	at   time.Time
	http *traceHTTP
	ev   map[string]any
}

type traceHTTP struct {
	T        string          `json:"t"`
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	Body     json.RawMessage `json:"body"`
	Status   *int            `json:"status"`
	Response any             `json:"response"`
	Note     string          `json:"note"`
}

const traceTime = "2006-01-02T15:04:05.000-0700"

func loadTrace(t *testing.T, name string) (items []traceItem, events []map[string]any) {
	t.Helper()
	dir := tracetest.Traces(t)
	read := func(suffix string, f func([]byte)) {
		fh, err := os.Open(filepath.Join(dir, name+suffix))
		if err != nil {
			t.Fatalf("trace %s: %v", name, err)
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if len(strings.TrimSpace(sc.Text())) > 0 {
				f(sc.Bytes())
			}
		}
	}
	read(".events.jsonl", func(b []byte) {
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(traceTime, ev["timestamp"].(string))
		events = append(events, ev)
		items = append(items, traceItem{at: at, ev: ev})
	})
	read(".http.jsonl", func(b []byte) {
		var h traceHTTP
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(traceTime, h.T)
		items = append(items, traceItem{at: at, http: &h})
	})
	// Events sort before requests of the same millisecond; the replay's sync
	// gives such events only a short grace, since the request may be their cause.
	sort.SliceStable(items, func(i, j int) bool {
		if !items[i].at.Equal(items[j].at) {
			return items[i].at.Before(items[j].at)
		}
		return items[i].ev != nil && items[j].ev == nil
	})
	return items, events
}

// replay drives a trace's scenario against the switch: the same requests, in
// the same order, each sent once as many events have arrived as Asterisk had
// sent by then; inbound calls and caller hangups are played by Sim phones where
// the trace shows their StasisStart / cause-less ChannelHangupRequest.
type replay struct {
	t       *testing.T
	h       *harness
	ids     map[string]string // trace id -> our id
	calls   map[string]*sim.Call
	before  map[int]func(r *replay) // extra actions before the n-th request
	headers []engine.Header
}

var timeoutRe = regexp.MustCompile(`timeout=(\d+)`)

func (r *replay) mapPath(p string) string {
	keys := make([]string, 0, len(r.ids))
	for k := range r.ids {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		p = strings.ReplaceAll(p, k, r.ids[k])
	}
	p = strings.ReplaceAll(p, "PJSIP/", "Sim/")
	// Scale dial timeouts down: the semantics are the same, the test is shorter.
	return timeoutRe.ReplaceAllStringFunc(p, func(m string) string {
		if m == "timeout=0" || m == "timeout=1" {
			return m
		}
		return "timeout=1"
	})
}

func (r *replay) learn(traceResp, ourResp any) {
	tm, ok1 := traceResp.(map[string]any)
	om, ok2 := ourResp.(map[string]any)
	if !ok1 || !ok2 {
		return
	}
	if tid, ok := tm["id"].(string); ok {
		if oid, ok := om["id"].(string); ok && tid != oid {
			r.ids[tid] = oid
		}
	}
}

func runReplay(t *testing.T, h *harness, name string, before map[int]func(*replay), headers []engine.Header) {
	t.Helper()
	items, traceEvents := loadTrace(t, name)
	r := &replay{t: t, h: h, ids: map[string]string{}, calls: map[string]*sim.Call{}, before: before, headers: headers}
	seen := 0 // trace events passed so far
	reqN := 0
	var now time.Time
	sync := func(what string) {
		strict := 0
		for _, ev := range significant(traceEvents[:seen]) {
			if at, _ := time.Parse(traceTime, ev["timestamp"].(string)); at.Before(now) {
				strict++
			}
		}
		want := len(significant(traceEvents[:seen]))
		if h.waitCount(want, 250*time.Millisecond) {
			return
		}
		if !h.waitCount(strict, 4*time.Second) {
			t.Fatalf("%s: before %s: have %d significant events, the trace had %d\nours:  %v\ntrace: %v",
				name, what, h.count(), want, signatures(h.all()), signatures(traceEvents[:seen]))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, it := range items {
		now = it.at
		if it.ev != nil {
			r.onTraceEvent(ctx, it.ev, sync)
			seen++
			continue
		}
		hr := it.http
		if f := r.before[reqN]; f != nil {
			f(r)
		}
		reqN++
		switch {
		case hr.Method == "WEBSOCKET-CLOSE":
			sync("websocket close")
			h.closeWS()
			continue
		case hr.Method == "GET" && strings.HasPrefix(hr.Path, "/ari/events"):
			h.connectWS("linkctl")
			continue
		}
		path := r.mapPath(hr.Path)
		sync(hr.Method + " " + path)
		var body any
		if len(hr.Body) > 0 && string(hr.Body) != "null" {
			body = json.RawMessage(hr.Body)
		}
		status, resp := h.do(hr.Method, path, body)
		validateResponse(t, hr.Method+" "+path, resp)
		if hr.Status != nil && status != *hr.Status {
			t.Errorf("%s: %s %s: status %d, trace %d (%s)", name, hr.Method, path, status, *hr.Status, hr.Note)
			continue
		}
		if status >= 400 && !reflect.DeepEqual(resp, hr.Response) {
			t.Errorf("%s: %s %s: body %v, trace %v", name, hr.Method, path, resp, hr.Response)
		}
		compareShape(t, name+": "+hr.Method+" "+path, hr.Response, resp)
		r.learn(hr.Response, resp)
	}
	want := signatures(traceEvents)
	if !h.waitCount(len(significant(traceEvents)), 4*time.Second) {
		t.Errorf("%s: missing events", name)
	}
	time.Sleep(150 * time.Millisecond) // nothing extra may follow
	got := signatures(h.all())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: event sequence differs from Asterisk\nours:  %s\ntrace: %s", name, strings.Join(got, " "), strings.Join(want, " "))
	}
	for _, d := range fieldDiffs(h.all(), traceEvents) {
		t.Errorf("%s: %s", name, d)
	}
	for _, ev := range h.all() {
		validateEvent(t, ev)
	}
}

// onTraceEvent plays the outside world where the trace shows it acting.
func (r *replay) onTraceEvent(ctx context.Context, ev map[string]any, sync func(string)) {
	ch, _ := ev["channel"].(map[string]any)
	typ := ev["type"]
	args, _ := ev["args"].([]any)
	switch {
	case typ == "StasisStart" && len(args) == 2 && args[0] == "inbound":
		sync("inbound call")
		name := ch["name"].(string)
		ep := strings.TrimPrefix(name[:strings.LastIndexByte(name, '-')], "PJSIP/")
		caller, _ := ch["caller"].(map[string]any)
		call, err := r.h.sw.Sim.Phone(ep).Call(ctx, args[1].(string), sim.WithHeaders(r.headers...),
			sim.WithCallerID(fmt.Sprint(caller["name"]), fmt.Sprint(caller["number"])))
		if err != nil {
			r.t.Fatalf("inbound call from %s: %v", ep, err)
		}
		r.ids[ch["id"].(string)] = call.ChannelID()
		r.calls[ch["id"].(string)] = call
	case typ == "ChannelDtmfReceived":
		sync("caller DTMF")
		r.callOf(ch["id"].(string)).SendDigit(ev["digit"].(string), int(ev["duration_ms"].(float64)))
	case typ == "ChannelTransfer" && ev["state"] == nil:
		sync("REFER")
		rb := ev["referred_by"].(map[string]any)
		src := rb["source_channel"].(map[string]any)["id"].(string)
		dest := ev["refer_to"].(map[string]any)["requested_destination"].(map[string]any)["destination"].(string)
		r.callOf(src).Refer(dest)
	case typ == "ChannelHangupRequest" && ev["cause"] == nil:
		call := r.calls[ch["id"].(string)]
		if call == nil {
			r.t.Fatalf("caller hangup of unknown call %v", ch["id"])
		}
		sync("caller hangup")
		call.Hangup()
	}
}

// callOf finds the Sim call behind a trace channel id.
func (r *replay) callOf(traceID string) *sim.Call {
	if c := r.calls[traceID]; c != nil {
		return c
	}
	if c := r.h.sw.Sim.FindCall(r.ids[traceID]); c != nil {
		return c
	}
	r.t.Fatalf("no sim call for trace channel %s (ours %q)", traceID, r.ids[traceID])
	return nil
}

// compareShape checks the fields of a success answer that carry meaning.
func compareShape(t *testing.T, what string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: list of %d, trace %d", what, lenOf(got), len(w))
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: answer %v, trace %v", what, got, want)
			return
		}
		for _, k := range []string{"state", "technology", "bridge_type", "value", "media_uri"} {
			if wv, ok := w[k]; ok && !reflect.DeepEqual(g[k], wv) {
				t.Errorf("%s: %s = %v, trace %v", what, k, g[k], wv)
			}
		}
		for _, k := range []string{"channels", "channel_ids", "bridge_ids"} {
			if wv, ok := w[k].([]any); ok && lenOf(g[k]) != len(wv) {
				t.Errorf("%s: %s has %d, trace %d", what, k, lenOf(g[k]), len(wv))
			}
		}
	}
}

func lenOf(v any) int {
	if l, ok := v.([]any); ok {
		return len(l)
	}
	return -1
}

func fast(b sim.Behavior) sim.Script {
	return sim.Script{Behavior: b, AnswerAfter: 30 * time.Millisecond}
}

func TestTraces(t *testing.T) {
	cases := []struct {
		name    string
		scripts map[string]sim.Script
		headers []engine.Header
		before  map[int]func(*replay)
	}{
		{name: "t01-inbound-answer-caller-hangup"},
		{name: "t02-originate-bridge-2party", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t03-inbound-headers", headers: []engine.Header{{Name: "X-Linkage-Ticket", Value: "GD-2026-000456"},
			{Name: "User-to-User", Value: "47442D323032362D303030343536;encoding=hex"}}},
		{name: "t03-originate-headers", scripts: map[string]sim.Script{"a110-2001": fast(sim.Answer)}},
		{name: "t04-originate-noanswer", scripts: map[string]sim.Script{"a12345-1001": fast(sim.NoAnswer)}},
		{name: "t05-originate-busy", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Busy)}},
		{name: "t06-originate-unavailable-nolistener", scripts: map[string]sim.Script{"a12345-1002": fast(sim.Unavailable)}},
		{name: "t06-originate-unavailable-nolistener-notimeout", scripts: map[string]sim.Script{"a12345-1002": fast(sim.Unavailable)}},
		{name: "t07-create-dial-answered", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t07-create-dial-noanswer", scripts: map[string]sim.Script{"a12345-1001": fast(sim.NoAnswer)}},
		{name: "t07-create-dial-busy", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Busy)}},
		{name: "t08-caller-hangs-up-while-target-rings", scripts: map[string]sim.Script{"a110-2001": fast(sim.NoAnswer)}},
		{name: "t09-dtmf-rfc4733-endpoint"},
		{name: "t09-dtmf-info-endpoint"},
		{name: "t10-moh-ring-tone"},
		{name: "t11-bridge-3party", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer), "a110-2001": fast(sim.Answer)}},
		{name: "t12-errors", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t13-ws-disconnect", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t13-ws-disconnect-caller-hangup", before: map[int]func(*replay){
			4: func(r *replay) { // "after the caller sent BYE (no websocket connected)"
				for _, c := range r.calls {
					c.Hangup()
				}
			}}},
		{name: "t13-ws-none-inbound", before: map[int]func(*replay){
			1: func(r *replay) {
				_, err := r.h.sw.Sim.Phone("citizen").Call(context.Background(), "12345")
				var re *engine.RejectError
				if !errors.As(err, &re) || re.Cause != 16 {
					r.t.Errorf("inbound call with no application: %v, want reject cause 16", err)
				}
			}}},
		{name: "t14-refer-ari-only-progress-answered", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t14-refer-ari-only-declined", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t14-refer-ari-only-unavailable", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t15-hangup-reasons-unanswered-inbound"},
		{name: "t15-hangup-reasons-answered-outbound", scripts: map[string]sim.Script{"a12345-1001": fast(sim.Answer)}},
		{name: "t15-hangup-reasons-answered-inbound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim.TimerB = 1500 * time.Millisecond // longer than the scaled dial timeouts
			if strings.HasSuffix(tc.name, "notimeout") {
				sim.TimerB = 400 * time.Millisecond
			}
			h := newHarness(t, nil)
			for ep, s := range tc.scripts {
				h.sw.Sim.Phone(ep).SetScript(s)
			}
			runReplay(t, h, tc.name, tc.before, tc.headers)
		})
	}
}
