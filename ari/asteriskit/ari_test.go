package asteriskit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// target is the ARI server under test.
type target struct {
	base, ws   string
	user, pass string
	app        string
	answer     string // endpoint that answers at once
	sip        string // PJSIP endpoint that auto-answers ("" = PJSIP-only checks skip)
}

const (
	envURL    = "LINKCTL_ASTERISK_ARI_URL"
	envUser   = "LINKCTL_ASTERISK_ARI_USER"
	envPass   = "LINKCTL_ASTERISK_ARI_PASSWORD"
	envApp    = "LINKCTL_ASTERISK_ARI_APP"
	envAnswer = "LINKCTL_ASTERISK_ANSWER_ENDPOINT"
	envSIP    = "LINKCTL_ASTERISK_SIP_ENDPOINT"
)

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// targetFromEnv returns the configured Asterisk or skips the test visibly.
func targetFromEnv(t *testing.T) target {
	t.Helper()
	base := os.Getenv(envURL)
	if base == "" {
		t.Skipf("real-Asterisk integration test skipped: set %s (e.g. http://127.0.0.1:8088/ari) and %s to run it against an Asterisk 22 (docker/compose.yaml starts one)", envURL, envPass)
	}
	if os.Getenv(envPass) == "" {
		t.Skipf("real-Asterisk integration test skipped: %s is set but %s is not", envURL, envPass)
	}
	base = strings.TrimSuffix(base, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		t.Fatalf("%s=%q is not an http(s) URL", envURL, base)
	}
	ws := "ws" + strings.TrimPrefix(base, "http") + "/events"
	app := getenv(envApp, "linkctl-it")
	if app == "linkctl" {
		t.Fatalf("%s=linkctl would take production calls; use a test application name", envApp)
	}
	return target{base: base, ws: ws, user: getenv(envUser, "linkctl"), pass: os.Getenv(envPass), app: app,
		answer: getenv(envAnswer, "Local/600@from-agents"), sip: os.Getenv(envSIP)}
}

// event is the part of an ARI event the checks look at.
type event struct {
	Type    string   `json:"type"`
	Args    []string `json:"args"`
	Cause   *int     `json:"cause"`
	Soft    *bool    `json:"soft"`
	Dial    string   `json:"dialstatus"`
	Channel *struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"channel"`
	Peer *struct {
		ID string `json:"id"`
	} `json:"peer"`
	Bridge *struct {
		ID       string   `json:"id"`
		Channels []string `json:"channels"`
	} `json:"bridge"`
	raw string
}

func (e event) channelID() string {
	switch {
	case e.Channel != nil:
		return e.Channel.ID
	case e.Peer != nil:
		return e.Peer.ID
	}
	return ""
}

// conn is one application session: REST with a deadline per call, events
// from one websocket.
type conn struct {
	t      *testing.T
	tg     target
	http   *http.Client
	ws     *websocket.Conn
	events chan event
	mu     sync.Mutex
	seen   []event
}

func connect(t *testing.T, tg target) *conn {
	t.Helper()
	c := &conn{t: t, tg: tg, http: &http.Client{Timeout: 10 * time.Second}}
	c.open()
	t.Cleanup(func() { c.ws.Close() })
	return c
}

func (c *conn) open() {
	c.t.Helper()
	cfg, err := websocket.NewConfig(c.tg.ws+"?app="+url.QueryEscape(c.tg.app)+"&subscribeAll=false", "http://localhost/")
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.Header.Set("Authorization", "Basic "+basic(c.tg.user, c.tg.pass))
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		c.t.Fatalf("event websocket %s: %v", c.tg.ws, err)
	}
	c.ws = ws
	c.events = make(chan event, 1024)
	go func(ws *websocket.Conn, ch chan<- event) {
		defer close(ch)
		for {
			var msg string
			if err := websocket.Message.Receive(ws, &msg); err != nil {
				return
			}
			var e event
			if json.Unmarshal([]byte(msg), &e) != nil {
				continue
			}
			e.raw = msg
			ch <- e
		}
	}(ws, c.events)
	// The application is registered once the upgrade is handled; wait until
	// ARI lists it so nothing is originated into a not-yet-known app.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := c.do("GET", "/applications/"+url.PathEscape(c.tg.app), nil, nil)
		if st == 200 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("application %s not registered 5 s after the websocket connected (last status %d)", c.tg.app, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *conn) reconnect() {
	c.ws.Close()
	for range c.events { // drain until the reader ends
	}
	c.open()
}

func basic(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }

// do makes one REST call; path is relative to the ARI base ("/channels").
func (c *conn) do(method, path string, q url.Values, body any) (int, []byte) {
	c.t.Helper()
	u := c.tg.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.tg.user, c.tg.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must makes a REST call that has to answer want.
func (c *conn) must(want int, method, path string, q url.Values, body any) []byte {
	c.t.Helper()
	st, b := c.do(method, path, q, body)
	if st != want {
		c.t.Fatalf("%s %s?%s: %d %s, want %d", method, path, q.Encode(), st, b, want)
	}
	return b
}

// await waits (at most d) for an event matching pred; other events are kept in seen.
func (c *conn) await(d time.Duration, what string, pred func(event) bool) event {
	c.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				c.t.Fatalf("websocket closed while waiting for %s", what)
			}
			c.mu.Lock()
			c.seen = append(c.seen, e)
			c.mu.Unlock()
			if pred(e) {
				return e
			}
		case <-timer.C:
			c.t.Fatalf("no %s within %v; events seen: %v", what, d, c.typesSeen(""))
		}
	}
}

// quiet asserts no event arrives for d.
func (c *conn) quiet(d time.Duration, why string) {
	c.t.Helper()
	select {
	case e := <-c.events:
		c.t.Fatalf("%s, but got %s %s", why, e.Type, e.raw)
	case <-time.After(d):
	}
}

// typesSeen lists the event types seen for a channel (all when id is ""),
// without ChannelVarset noise.
func (c *conn) typesSeen(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.seen {
		if e.Type == "ChannelVarset" || (id != "" && e.channelID() != id) {
			continue
		}
		out = append(out, e.Type)
	}
	return out
}

func (c *conn) forget() {
	c.mu.Lock()
	c.seen = nil
	c.mu.Unlock()
}

func newID(t *testing.T, kind string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "lkit-" + kind + "-" + hex.EncodeToString(b)
}

func isType(typ, id string) func(event) bool {
	return func(e event) bool { return e.Type == typ && (id == "" || e.channelID() == id) }
}

// originate starts an answered leg into the test app with the given id and
// waits for its StasisStart; cleanup hangs it up if it still exists.
func (c *conn) originate(endpoint, id string, args string, body any) event {
	c.t.Helper()
	q := url.Values{"endpoint": {endpoint}, "app": {c.tg.app}, "appArgs": {args}, "channelId": {id},
		"otherChannelId": {id + "-2"}, "timeout": {"15"}}
	b := c.must(200, "POST", "/channels", q, body)
	var ch struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &ch); err != nil || ch.ID != id {
		c.t.Fatalf("originate answered channel id %q (%v), want the chosen id %q", ch.ID, err, id)
	}
	c.t.Cleanup(func() { c.do("DELETE", "/channels/"+id, nil, nil) })
	return c.await(15*time.Second, "StasisStart of "+id, isType("StasisStart", id))
}

func errBody(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("error body %q is not a JSON object of strings: %v", b, err)
	}
	return m
}
