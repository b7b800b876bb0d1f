package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"linkctl/ari/embedded"
	"linkctl/config"
	"linkctl/sip/media"
)

// harness is an embedded switch on 127.0.0.1:0 with an event websocket and an HTTP client.
type harness struct {
	t  *testing.T
	sw *embedded.Switch

	mu     sync.Mutex
	events []map[string]any // every event received on any websocket, in order
	wake   chan struct{}
	ws     *websocket.Conn
}

func newHarness(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	cfg := config.Default()
	cfg.Switch.Listen = "127.0.0.1:0"
	cfg.Switch.SoundsDir = soundsDir(t)
	cfg.Switch.SimEndpoints = []config.SimEndpoint{{Name: "citizen"}, {Name: "citizen-info"},
		{Name: "a12345-1001"}, {Name: "a12345-1002"}, {Name: "a110-2001"}, {Name: "a110-2002"}}
	if mutate != nil {
		mutate(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sw, err := embedded.Start(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatalf("start switch: %v", err)
	}
	h := &harness{t: t, sw: sw, wake: make(chan struct{}, 1)}
	t.Cleanup(func() {
		h.closeWS()
		cancel()
		_ = sw.Close()
	})
	return h
}

// soundsDir makes a sounds directory with linkctl-beep.wav (1 s, 1 kHz).
func soundsDir(t *testing.T) string {
	dir := t.TempDir()
	samples := make([]int16, 8000)
	for i := range samples {
		if (i/4)%2 == 0 {
			samples[i] = 6000
		} else {
			samples[i] = -6000
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "linkctl-beep.wav"), media.EncodeWAV(samples), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (h *harness) connectWS(app string) {
	h.t.Helper()
	u := strings.Replace(h.sw.WebsocketURL, "/ari/events", "/ari/events?app="+app+"&subscribeAll=false", 1)
	cfg, err := websocket.NewConfig(u, "http://localhost/")
	if err != nil {
		h.t.Fatal(err)
	}
	cfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(h.sw.Username+":"+h.sw.Password)))
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		h.t.Fatalf("websocket: %v", err)
	}
	h.ws = ws
	go func() {
		for {
			var msg string
			if err := websocket.Message.Receive(ws, &msg); err != nil {
				return
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(msg), &ev); err != nil {
				h.t.Errorf("event is not JSON: %v: %s", err, msg)
				return
			}
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}()
	// The subscription is registered in the handler right after the upgrade.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := h.sw.Engine.Application(app); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("application %s never registered", app)
}

func (h *harness) closeWS() {
	if h.ws != nil {
		_ = h.ws.Close()
		h.ws = nil
	}
}

// do sends an ARI request (body JSON-encoded if not nil) and decodes the answer.
func (h *harness) do(method, path string, body any) (int, any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	base := strings.TrimSuffix(h.sw.URL, "/ari")
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.SetBasicAuth(h.sw.Username, h.sw.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, v
}

// count is the number of significant (non-ChannelVarset) events received.
func (h *harness) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(significant(h.events))
}

func (h *harness) waitCount(n int, d time.Duration) bool {
	deadline := time.After(d)
	for h.count() < n {
		select {
		case <-h.wake:
		case <-deadline:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

// waitEvent waits for the first event after index from matching pred.
func (h *harness) waitEvent(from int, d time.Duration, pred func(map[string]any) bool) (map[string]any, int) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for i := from; i < len(h.events); i++ {
			if pred(h.events[i]) {
				ev := h.events[i]
				h.mu.Unlock()
				return ev, i
			}
		}
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("no matching event within %v", d)
	return nil, 0
}

func (h *harness) all() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.events...)
}

func significant(evs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e["type"] != "ChannelVarset" {
			out = append(out, e)
		}
	}
	return out
}

func chanID(ev map[string]any) string {
	for _, k := range []string{"channel", "peer"} {
		if c, ok := ev[k].(map[string]any); ok {
			s, _ := c["id"].(string)
			return s
		}
	}
	if ev["type"] == "ChannelTransfer" {
		if rb, ok := ev["referred_by"].(map[string]any); ok {
			if c, ok := rb["source_channel"].(map[string]any); ok {
				s, _ := c["id"].(string)
				return s
			}
		}
	}
	if p, ok := ev["playback"].(map[string]any); ok {
		s, _ := p["target_uri"].(string)
		return strings.TrimPrefix(s, "channel:")
	}
	if b, ok := ev["bridge"].(map[string]any); ok {
		s, _ := b["id"].(string)
		return "bridge:" + s
	}
	return ""
}

// signatures turns events into comparable strings: role of the channel (by first
// appearance), type, and the fields that carry meaning (dialstatus, cause, soft,
// playback state, args). Runs of Dial/ChannelStateChange for one channel, and
// runs of ChannelConnectedLine, are sorted: Asterisk sends them in either order
// (README, General observations; t02 vs t14).
func signatures(evs []map[string]any) []string {
	roles := map[string]string{}
	var out []string
	runStart := -1
	runKey := ""
	flush := func() {
		if runStart >= 0 {
			sort.Strings(out[runStart:])
		}
		runStart, runKey = -1, ""
	}
	for _, e := range significant(evs) {
		id := chanID(e)
		if _, ok := roles[id]; !ok {
			if strings.HasPrefix(id, "bridge:") {
				roles[id] = fmt.Sprintf("b%d", len(roles)+1)
			} else {
				roles[id] = fmt.Sprintf("c%d", len(roles)+1)
			}
		}
		typ, _ := e["type"].(string)
		s := roles[id] + ":" + typ
		switch typ {
		case "Dial":
			s += fmt.Sprintf("(%v)", e["dialstatus"])
		case "ChannelHangupRequest":
			s += fmt.Sprintf("(cause=%v,soft=%v)", e["cause"], e["soft"])
		case "ChannelDestroyed":
			s += fmt.Sprintf("(%v %v)", e["cause"], e["cause_txt"])
		case "StasisStart":
			var args []string
			for _, a := range e["args"].([]any) {
				if r, ok := roles[fmt.Sprint(a)]; ok {
					a = r
				}
				args = append(args, fmt.Sprint(a))
			}
			s += fmt.Sprintf("%v", args)
		case "PlaybackStarted", "PlaybackFinished":
			p, _ := e["playback"].(map[string]any)
			s += fmt.Sprintf("(%v)", p["state"])
		case "ChannelEnteredBridge", "ChannelLeftBridge":
			b, _ := e["bridge"].(map[string]any)
			s += fmt.Sprintf("(%v n=%d)", b["technology"], len(b["channels"].([]any)))
		case "ChannelTransfer":
			s += fmt.Sprintf("(%v)", e["state"])
		}
		key := roles[id]
		if typ == "ChannelConnectedLine" {
			key = "connected-line" // both parties' updates come in either order (t02 vs t14)
		}
		if typ == "Dial" || typ == "ChannelStateChange" || typ == "ChannelConnectedLine" {
			if runStart < 0 || runKey != key {
				flush()
				runStart, runKey = len(out), key
			}
			out = append(out, s)
			continue
		}
		flush()
		out = append(out, s)
	}
	flush()
	return out
}

// fieldDiffs compares, channel by channel (roles by first appearance), the
// fields Asterisk puts in each event: channel state, caller, connected,
// dialplan, dialstring, cause, tech_cause, soft. Ids inside values are replaced
// by roles. Dial and ChannelStateChange are matched by status/state, not order.
func fieldDiffs(ours, trace []map[string]any) []string {
	type keyed struct {
		key string
		ev  map[string]any
	}
	perRole := func(evs []map[string]any) (map[string][]keyed, map[string]string) {
		roles := map[string]string{}
		out := map[string][]keyed{}
		for _, e := range significant(evs) {
			id := chanID(e)
			if _, ok := roles[id]; !ok {
				roles[id] = fmt.Sprintf("r%d", len(roles)+1)
			}
			k := fmt.Sprint(e["type"])
			switch k {
			case "Dial":
				k += fmt.Sprint(e["dialstatus"])
			case "ChannelStateChange":
				k += fmt.Sprint(e["channel"].(map[string]any)["state"])
			}
			out[roles[id]] = append(out[roles[id]], keyed{k, e})
		}
		return out, roles
	}
	o, oroles := perRole(ours)
	tr, troles := perRole(trace)
	norm := func(v any, roles map[string]string) string {
		s := fmt.Sprint(v)
		for id, r := range roles {
			if id != "" && !strings.HasPrefix(id, "bridge:") {
				s = strings.ReplaceAll(s, id, r)
			}
		}
		return s
	}
	var diffs []string
	for role, tl := range tr {
		ol := o[role]
		used := make([]bool, len(ol))
		for _, te := range tl {
			j := -1
			for i, oe := range ol {
				if !used[i] && oe.key == te.key {
					j = i
					break
				}
			}
			if j < 0 {
				diffs = append(diffs, fmt.Sprintf("%s: no %s", role, te.key))
				continue
			}
			used[j] = true
			oe := ol[j].ev
			for _, f := range []string{"dialstring", "cause", "tech_cause", "soft", "cause_txt", "digit", "duration_ms"} {
				if norm(oe[f], oroles) != norm(te.ev[f], troles) {
					diffs = append(diffs, fmt.Sprintf("%s %s: %s = %v, trace %v", role, te.key, f, oe[f], te.ev[f]))
				}
			}
			oc, _ := oe["channel"].(map[string]any)
			if oc == nil {
				oc, _ = oe["peer"].(map[string]any)
			}
			tc, _ := te.ev["channel"].(map[string]any)
			if tc == nil {
				tc, _ = te.ev["peer"].(map[string]any)
			}
			if oc == nil || tc == nil {
				continue
			}
			for _, f := range []string{"state", "caller", "connected", "dialplan", "language", "accountcode"} {
				if f == "state" && strings.HasPrefix(te.key, "Dial") {
					continue // Dial RINGING and ChannelStateChange Ringing come in either order
				}
				if norm(oc[f], oroles) != norm(tc[f], troles) {
					diffs = append(diffs, fmt.Sprintf("%s %s: channel.%s = %v, trace %v", role, te.key, f, norm(oc[f], oroles), norm(tc[f], troles)))
				}
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}
