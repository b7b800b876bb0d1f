package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/callflow/scenario"
	"linkctl/config"
	"linkctl/store"
)

// The supervisor page in a real headless Chromium, driven over the DevTools
// protocol: it loads, draws a call's legs, and shows a new call when one ends.
func TestSupervisorPageInChromium(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		if os.Getenv("LINKCTL_REQUIRE_CHROMIUM") != "" {
			t.Fatal("LINKCTL_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("SKIP: chromium not installed; set LINKCTL_REQUIRE_CHROMIUM=1 to make this a failure")
	}
	// demo-3 is still talking, with a busy 110 leg and a transfer still ringing;
	// demo-4 carries values the page has no label for (shown raw).
	live := sampleCall("demo-3", time.Now().Add(-3*time.Minute))
	live.State, live.Ended, live.Outcome, live.EndCause = callflow.StateTalking.String(), nil, "", ""
	live.Legs[2].Cause, live.Legs[2].CauseText = 17, "User busy"
	live.Transfers[0].Outcome = callflow.OutcomePending
	odd := sampleCall("demo-4", time.Now().Add(-4*time.Minute))
	odd.Outcome, odd.Transfers[0].Outcome, odd.Legs[0].Cause, odd.Legs[0].CauseText = "mystery-end", "mystery-xfer", 99, "Strange cause"
	odd.State = "no-such-state"
	unanswered := sampleCall("demo-5", time.Now().Add(-5*time.Minute))
	unanswered.Outcome, unanswered.Transfers, unanswered.EndCause = "unanswered", nil, "caller gone before answer"
	st := newFakeStore(sampleCall("demo-1", time.Now().Add(-2*time.Minute)), live, odd, unanswered)
	m := mustMatters(t)
	st.stats = store.DailyStats{Calls: 1, Transfers: 1, ByDirection: map[string]int{"12345->110": 1},
		ByOutcome: map[string]int{"completed": 1, "pending": 2, "no-answer": 1}, ByMode: map[string]int{"one-key": 3, "three-way": 1},
		ThreeWayResolutions: map[string]int{"handed-over": 1}, Pushes: map[string]int{"110->12345": 2}}
	// Dev mode (no tokens): the page's loopback requests act as admin.
	srv := testServer(t, Options{Store: st, Tokens: []config.APIToken{}, Matters: func() *config.Matters { return m }})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cdp := openPage(t, ctx, bin, srv.URL+"/")

	// 1. The page loads, lists the call and draws its three legs.
	cdp.waitFor(t, ctx, "call listed and legs drawn", `(() => {
		const rows = document.querySelectorAll('#calls tbody tr[data-id="demo-1"]').length;
		const legs = Array.from(document.querySelectorAll('#timeline g.leg text.lbl')).map(e => e.textContent);
		return JSON.stringify({rows, legs});
	})()`, func(v string) bool {
		var got struct {
			Rows int
			Legs []string
		}
		_ = json.Unmarshal([]byte(v), &got)
		return got.Rows == 1 && strings.Join(got.Legs, "|") == "市民 trunk-in|12345坐席 a12345-1001|110坐席 a110-2001"
	})

	// zh-CN labels, raw values in the tooltip; unknown values raw.
	cells := func(id string) string {
		return cdp.eval(t, `(() => {
			const r = document.querySelector('#calls tbody tr[data-id="`+id+`"]');
			return Array.from(r.querySelectorAll('td.xfer-outcome, td.outcome, td.state')).map(td => td.textContent + '=' + (td.title || '')).join('|');
		})()`)
	}
	for _, tc := range []struct{ id, want string }{
		{"demo-1", "已转接=completed|已转接=transferred|已结束=ended"},
		{"demo-3", "进行中=|进行中=|通话中=talking"},
		{"demo-4", "mystery-xfer=|mystery-end=|已结束=ended"},
		{"demo-5", "未接听=unanswered|已结束=ended"},
	} {
		if got := cells(tc.id); got != tc.want {
			t.Errorf("row %s: %s, want %s", tc.id, got, tc.want)
		}
	}
	causes := cdp.eval(t, `Array.from(document.querySelectorAll('#timeline text.cause')).map(e => e.firstChild.nodeValue + '=' + e.dataset.raw).join('|')`)
	if causes != "✕ 正常挂机=16 Normal Clearing|✕ 正常挂机=16 Normal Clearing|✕ 正常挂机=16 Normal Clearing" {
		t.Errorf("hangup causes: %s", causes)
	}
	const summaryExpr = `Array.from(document.querySelectorAll('#summary dd')).map(e => e.textContent + (e.title ? '=' + e.title : '')).join('|')`
	summary := func() string { return cdp.eval(t, summaryExpr) }
	if got := summary(); !strings.Contains(got, "|已结束=ended|已转接=transferred|") || !strings.HasSuffix(got, "|正常结束=normal") {
		t.Errorf("summary: %s", got)
	}
	links := cdp.eval(t, `Array.from(document.querySelectorAll('#links li')).map(e => e.textContent).join('\n')`)
	if !strings.Contains(links, "市民 trunk-in ↔ 110坐席 a110-2001") || !strings.Contains(links, "市民 trunk-in ↔ 12345坐席 a12345-1001") {
		t.Fatalf("connections not shown:\n%s", links)
	}
	events := cdp.eval(t, `document.getElementById('events').textContent`)
	if !strings.Contains(events, "一键转接") || !strings.Contains(events, "已转接") {
		t.Fatalf("softkeys/transfers not shown: %s", events)
	}
	cdp.waitFor(t, ctx, "daily figures", `document.getElementById('fig-body').textContent`, func(v string) bool {
		return strings.Contains(v, "通话数") && strings.Contains(v, "12345→110：1")
	})
	figs := cdp.eval(t, `Array.from(document.querySelectorAll('#fig-body li')).map(e => e.textContent + '=' + (e.title || '')).join('|')`)
	for _, want := range []string{"已转接：1=completed", "进行中：2=pending", "无应答回退：1=no-answer", "一键转接：3=one-key",
		"三方通话：1=three-way", "移交对方：1=handed-over", "110→12345：2=110->12345"} {
		if !strings.Contains(figs, want) {
			t.Errorf("daily figures lack %q: %s", want, figs)
		}
	}

	// Other calls: a talking one with a busy leg and a ringing transfer, one with unknown values.
	cdp.eval(t, `document.querySelector('#calls tbody tr[data-id="demo-3"]').click(); 'ok'`)
	cdp.waitFor(t, ctx, "the talking call", summaryExpr, func(v string) bool { return strings.Contains(v, "demo-3") })
	if got := summary(); !strings.Contains(got, "|通话中=talking|") {
		t.Errorf("talking call summary: %s", got)
	}
	if got := cdp.eval(t, `Array.from(document.querySelectorAll('#timeline text.cause')).map(e => e.firstChild.nodeValue).join('|')`); !strings.Contains(got, "✕ 用户忙") {
		t.Errorf("busy leg cause: %s", got)
	}
	if got := cdp.eval(t, `document.getElementById('events').textContent`); !strings.Contains(got, "一键转接 12345→110") || !strings.Contains(got, "→ 进行中") || !strings.Contains(got, "坐席桌面") {
		t.Errorf("events of the talking call: %s", got)
	}
	cdp.eval(t, `document.querySelector('#calls tbody tr[data-id="demo-4"]').click(); 'ok'`)
	cdp.waitFor(t, ctx, "the odd call", summaryExpr, func(v string) bool { return strings.Contains(v, "demo-4") })
	if got := summary(); !strings.Contains(got, "|no-such-state|mystery-end|") {
		t.Errorf("unknown values not shown raw: %s", got)
	}
	if got := cdp.eval(t, `Array.from(document.querySelectorAll('#timeline text.cause')).map(e => e.firstChild.nodeValue).join('|')`); !strings.Contains(got, "✕ Strange cause") {
		t.Errorf("unknown cause not shown raw: %s", got)
	}
	cdp.eval(t, `document.querySelector('#calls tbody tr[data-id="demo-1"]').click(); 'ok'`)
	// No raw English value leaks into the visible text.
	visible := cdp.eval(t, `document.body.innerText`)
	for _, raw := range []string{"completed", "talking", "pending", "Normal Clearing", "unanswered", "transferred", "one-key", "handed-over", "User busy", "http"} {
		if strings.Contains(visible, raw) {
			t.Errorf("raw value %q visible on the page", raw)
		}
	}

	// 2. Live: the page is subscribed; a call that ends appears without a reload.
	cdp.waitFor(t, ctx, "live indicator", `document.getElementById('live').textContent`, func(v string) bool { return strings.Contains(v, "实时") })
	if st.subscribers() != 1 {
		t.Fatalf("page subscribers = %d, want 1", st.subscribers())
	}
	next := sampleCall("demo-2", time.Now().Add(-time.Minute))
	next.Transfers[0].Outcome = callflow.OutcomeNoAnswer
	next.OwnerPlatform = callflow.Platform12345
	st.save(next)
	cdp.waitFor(t, ctx, "new call row", `(() => {
		const r = document.querySelector('#calls tbody tr[data-id="demo-2"]');
		return r ? r.textContent : '';
	})()`, func(v string) bool { return strings.Contains(v, "无应答回退") && strings.Contains(v, "已结束") })
	cdp.screenshot(t, os.Getenv("LINKCTL_SCREENSHOT"))

	// 3. Selecting it redraws the timeline for that call.
	cdp.eval(t, `document.querySelector('#calls tbody tr[data-id="demo-2"]').click(); 'ok'`)
	cdp.waitFor(t, ctx, "detail of the new call", `document.getElementById('summary').textContent`, func(v string) bool { return strings.Contains(v, "demo-2") })
}

// With API tokens configured and none entered, the page says a token is needed
// (instead of reconnecting for ever); entering one brings the data and the live stream.
func TestSupervisorPageAsksForToken(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		if os.Getenv("LINKCTL_REQUIRE_CHROMIUM") != "" {
			t.Fatal("LINKCTL_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("SKIP: chromium not installed; set LINKCTL_REQUIRE_CHROMIUM=1 to make this a failure")
	}
	st := newFakeStore(sampleCall("demo-1", time.Now().Add(-2*time.Minute)))
	srv := testServer(t, Options{Store: st}) // testTokens(): a token is required
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cdp := openPage(t, ctx, bin, srv.URL+"/")
	cdp.waitFor(t, ctx, "token needed", `(() => {
		const l = document.getElementById('live'), e = document.getElementById('list-error');
		return l && e ? l.textContent + '|' + e.textContent : '';
	})()`,
		func(v string) bool {
			return strings.HasPrefix(v, "● 需要访问令牌|") && strings.Contains(v, "需要访问令牌")
		})
	// It stays so: no reconnect loop back to "重连中".
	time.Sleep(1500 * time.Millisecond)
	if v := cdp.eval(t, `document.getElementById('live').textContent`); v != "● 需要访问令牌" {
		t.Fatalf("live indicator changed to %q without a token", v)
	}
	if st.subscribers() != 0 {
		t.Fatalf("subscribers %d without a token", st.subscribers())
	}
	if ph := cdp.eval(t, `(() => { const i = document.getElementById('token'); return i.scrollWidth <= i.clientWidth ? 'fits' : 'cut ' + i.scrollWidth + '>' + i.clientWidth; })()`); ph != "fits" {
		t.Errorf("token placeholder is %s", ph)
	}
	cdp.screenshot(t, os.Getenv("LINKCTL_SCREENSHOT_TOKEN"))
	cdp.eval(t, `document.getElementById('token').value = '`+tokSup+`'; document.getElementById('save-token').click(); 'ok'`)
	cdp.waitFor(t, ctx, "data and live stream with the token", `document.getElementById('live').textContent + '|' + document.querySelectorAll('#calls tbody tr[data-id]').length`,
		func(v string) bool { return v == "● 实时|1" })
}

// The page on the real stack: a demo call (one-key 12345→110 pressed over HTTP on
// the embedded switch) shows its legs; a second call that ends appears live.
func TestSupervisorPageShowsDemoCall(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		if os.Getenv("LINKCTL_REQUIRE_CHROMIUM") != "" {
			t.Fatal("LINKCTL_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("SKIP: chromium not installed; set LINKCTL_REQUIRE_CHROMIUM=1 to make this a failure")
	}
	if testing.Short() {
		t.Skip("starts the embedded switch and a browser")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := startStack(t, ctx, []config.APIToken{}) // dev mode: the browser on loopback acts as admin

	// Demo call 1: 12345 answers, the agent presses one-key transfer, 110 takes it, the caller hangs up.
	caller, err := s.sw.Sim.Phone(scenario.Citizen).Call(ctx, "12345", sim.WithCallerID("市民", "13800138000"))
	if err != nil {
		t.Fatal(err)
	}
	first := s.talkingCall(t, ctx)
	category := s.cfg.Matters.Names(string(callflow.Dir12345To110))[0]
	a := call(t, s.srv, "POST", "/v1/calls/"+first+"/softkeys", "", `{"key":"transfer","agent":"`+scenario.Agent12345+`","ticket_id":"GD-DEMO-1","category":"`+category+`"}`)
	if a.status != 200 {
		t.Fatalf("softkey: %d %s", a.status, a.raw)
	}
	waitUntil(t, ctx, "110 takes the caller", func() bool {
		r, _ := s.ctl.Call(first)
		return r.OwnerPlatform == callflow.Platform110 && r.State == callflow.StateTalking.String()
	})
	caller.Hangup()
	waitUntil(t, ctx, "call 1 ends", func() bool { r, _ := s.ctl.Call(first); return r.Ended != nil })
	if err := s.st.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	cdp := openPage(t, ctx, bin, s.srv.URL+"/")
	cdp.waitFor(t, ctx, "the demo call's legs", `(() => {
		const sel = document.querySelector('#calls tbody tr.sel');
		const legs = Array.from(document.querySelectorAll('#timeline g.leg')).map(g => g.getAttribute('class'));
		const xfer = document.querySelectorAll('#timeline rect.xfer').length;
		return JSON.stringify({sel: sel ? sel.dataset.id : '', legs, xfer});
	})()`, func(v string) bool {
		var got struct {
			Sel  string
			Legs []string
			Xfer int
		}
		_ = json.Unmarshal([]byte(v), &got)
		return got.Sel == first && strings.Join(got.Legs, ",") == "leg citizen,leg agent-12345,leg agent-110" && got.Xfer == 1
	})
	if ev := cdp.eval(t, `document.getElementById('events').textContent`); !strings.Contains(ev, "一键转接") || !strings.Contains(ev, "已转接") {
		t.Fatalf("softkey and transfer not listed: %s", ev)
	}
	cdp.waitFor(t, ctx, "live", `document.getElementById('live').textContent`, func(v string) bool { return strings.Contains(v, "实时") })

	// Call 2 ends while the page is open: it appears without a reload.
	caller2, err := s.sw.Sim.Phone(scenario.Citizen).Call(ctx, "110", sim.WithCallerID("市民", "13900139000"))
	if err != nil {
		t.Fatal(err)
	}
	second := s.talkingCall(t, ctx, first)
	caller2.Hangup()
	cdp.waitFor(t, ctx, "the second call, ended", `(() => {
		const r = document.querySelector('#calls tbody tr[data-id="`+second+`"]');
		return r ? r.textContent : '';
	})()`, func(v string) bool { return strings.Contains(v, "13900139000") && strings.Contains(v, "已结束") })

	// Filters: today's calls of ticket GD-DEMO-1 are only the first call.
	cdp.eval(t, `(() => {
		const f = document.getElementById('filters');
		const d = new Date(), day = d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
		f.elements.ticket.value = 'GD-DEMO-1';
		f.elements.from.value = day;
		f.elements.to.value = day;
		f.requestSubmit();
		return 'ok';
	})()`)
	cdp.waitFor(t, ctx, "the ticket filter", `Array.from(document.querySelectorAll('#calls tbody tr[data-id]')).map(r => r.dataset.id).join(',')`,
		func(v string) bool { return v == first })
	cdp.screenshot(t, os.Getenv("LINKCTL_SCREENSHOT_DEMO"))
}

// openPage starts a headless Chromium with a fresh profile and loads url.
func openPage(t *testing.T, ctx context.Context, bin, url string) *cdpConn {
	t.Helper()
	cdp := startChromium(t, ctx, bin)
	cdp.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false})
	cdp.call(t, "Page.navigate", map[string]any{"url": url})
	return cdp
}

// screenshot writes a PNG of the page to path ("" = none).
func (c *cdpConn) screenshot(t *testing.T, path string) {
	t.Helper()
	if path == "" {
		return
	}
	res := c.call(t, "Page.captureScreenshot", map[string]any{"format": "png"})
	var shot struct{ Data string }
	_ = json.Unmarshal(res, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) == 0 {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot written to %s", path)
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// cdpConn is a minimal Chrome DevTools protocol client on one page target.
type cdpConn struct {
	ws   *websocket.Conn
	next int
}

func startChromium(t *testing.T, ctx context.Context, bin string) *cdpConn {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+profile,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the process group this test created
		_ = cmd.Wait()
	})
	// Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…".
	browserWS := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				browserWS <- url
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-browserWS:
	case <-ctx.Done():
		t.Fatal("chromium did not start its DevTools endpoint")
	}
	hostPort := strings.SplitN(strings.TrimPrefix(wsURL, "ws://"), "/", 2)[0]
	pageWS := ""
	for pageWS == "" {
		res, err := http.Get("http://" + hostPort + "/json/list")
		if err == nil {
			var targets []struct{ Type, WebSocketDebuggerURL string }
			_ = json.NewDecoder(res.Body).Decode(&targets)
			res.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" {
					pageWS = tg.WebSocketDebuggerURL
				}
			}
		}
		if pageWS == "" {
			select {
			case <-ctx.Done():
				t.Fatal("no page target in chromium")
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	ws, err := websocket.Dial(pageWS, "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("devtools websocket: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetDeadline(dl)
	}
	c := &cdpConn{ws: ws}
	c.call(t, "Page.enable", nil)
	c.call(t, "Runtime.enable", nil)
	return c
}

// call sends one command and returns its result, skipping events in between.
func (c *cdpConn) call(t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	c.next++
	id := c.next
	if params == nil {
		params = map[string]any{}
	}
	if err := websocket.JSON.Send(c.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		t.Fatalf("cdp %s: %v", method, err)
	}
	for {
		var msg struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(c.ws, &msg); err != nil {
			t.Fatalf("cdp %s: %v", method, err)
		}
		if msg.Method == "Runtime.exceptionThrown" || (msg.Method == "Runtime.consoleAPICalled" && strings.Contains(string(msg.Params), `"type":"error"`)) {
			t.Errorf("page error: %s", msg.Params)
		}
		if msg.ID != id {
			continue
		}
		if msg.Error != nil {
			t.Fatalf("cdp %s: %s", method, msg.Error.Message)
		}
		return msg.Result
	}
}

// eval evaluates a JS expression in the page and returns its string value.
func (c *cdpConn) eval(t *testing.T, expr string) string {
	t.Helper()
	res := c.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	var out struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatal(err)
	}
	if out.ExceptionDetails != nil {
		t.Fatalf("eval %q: %s", expr, out.ExceptionDetails.Text)
	}
	return fmt.Sprint(out.Result.Value)
}

// waitFor polls expr until ok accepts its value or ctx ends.
func (c *cdpConn) waitFor(t *testing.T, ctx context.Context, what, expr string, ok func(string) bool) {
	t.Helper()
	var last string
	for {
		if last = c.eval(t, expr); ok(last) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("page never showed %s; last value: %s", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
