package phone_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/net/websocket"

	"linkctl/ari/embedded"
	"linkctl/config"
	"linkctl/sip/phone"
	"linkctl/sip/tech"
)

// The phones against the embedded switch over real SIP and RTP on loopback, the
// calls driven the way the controller drives them (ARI over HTTP + websocket).
// This is the audio proof of issue 3: mixing, hand-over, announcements.

type sw struct {
	t   *testing.T
	es  *embedded.Switch
	tc  *tech.Tech
	mu  sync.Mutex
	evs []map[string]any
}

func startSwitch(t *testing.T, accounts ...string) *sw {
	t.Helper()
	cfg := config.Default()
	cfg.Switch.Listen = "127.0.0.1:0"
	cfg.Switch.SimEndpoints = nil
	_, file, _, _ := runtime.Caller(0)
	cfg.Switch.SoundsDir = filepath.Join(filepath.Dir(file), "..", "media", "sounds")
	cfg.SIP.ListenUDP = "127.0.0.1:0"
	cfg.SIP.ListenTCP = ""
	cfg.SIP.AllowAnonymous = true
	for _, a := range accounts {
		platform := "12345"
		if strings.HasPrefix(a, "a110") {
			platform = "110"
		}
		cfg.SIP.Accounts = append(cfg.SIP.Accounts, config.SIPAccount{Username: a, Password: "pw-" + a, Platform: platform, AgentID: a})
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := zaptest.NewLogger(t).Named("switch")
	es, err := embedded.Start(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tc, err := tech.Attach(ctx, es.Engine, cfg.SIP, log)
	if err != nil {
		cancel()
		es.Close()
		t.Fatal(err)
	}
	s := &sw{t: t, es: es, tc: tc}
	t.Cleanup(func() {
		tc.Close()
		cancel()
		es.Close()
	})
	s.connect("linkctl")
	return s
}

func (s *sw) connect(app string) {
	u := strings.Replace(s.es.WebsocketURL, "/ari/events", "/ari/events?app="+app, 1)
	wc, err := websocket.NewConfig(u, "http://localhost/")
	if err != nil {
		s.t.Fatal(err)
	}
	wc.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.es.Username+":"+s.es.Password)))
	ws, err := websocket.DialConfig(wc)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { ws.Close() })
	go func() {
		for {
			var msg string
			if websocket.Message.Receive(ws, &msg) != nil {
				return
			}
			var ev map[string]any
			if json.Unmarshal([]byte(msg), &ev) == nil {
				s.mu.Lock()
				s.evs = append(s.evs, ev)
				s.mu.Unlock()
			}
		}
	}()
	for range 400 {
		if _, err := s.es.Engine.Application(app); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatal("ARI application never registered")
}

// stasisStart waits for StasisStart with the given args[1] and returns the channel id.
func (s *sw) stasisStart(arg string) string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for i, ev := range s.evs {
			if ev["type"] != "StasisStart" {
				continue
			}
			args, _ := ev["args"].([]any)
			if len(args) > 1 && args[1] == arg {
				s.evs = append(s.evs[:i:i], s.evs[i+1:]...)
				s.mu.Unlock()
				return ev["channel"].(map[string]any)["id"].(string)
			}
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("no StasisStart with arg %q", arg)
	return ""
}

func (s *sw) ari(method, path string, body any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.es.URL+path, rd)
	req.SetBasicAuth(s.es.Username, s.es.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func (s *sw) must(method, path string, want int) {
	s.t.Helper()
	if got := s.ari(method, path, nil); got != want {
		s.t.Fatalf("%s %s -> %d, want %d", method, path, got, want)
	}
}

func (s *sw) registrar() string { return s.tc.UDPAddr().String() }

func agentPhone(t *testing.T, s *sw, user string, tone float64) *phone.Phone {
	t.Helper()
	p, err := phone.New(t.Context(), phone.Options{
		User: user, Password: "pw-" + user, Registrar: s.registrar(), ToneHz: tone,
		AutoAnswer: true, AnswerDelay: 100 * time.Millisecond, Logger: zaptest.NewLogger(t).Named(user),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Register(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatalf("%s register: %v", user, err)
	}
	return p
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// hearsOnly checks, over the last window of c's timeline, that want are heard
// and notWant are not.
func hearsOnly(t *testing.T, who string, c *phone.Call, since time.Time, want, notWant []float64) {
	t.Helper()
	tl := c.Heard().Since(since)
	for _, f := range want {
		if tl.Duration(f) < 300*time.Millisecond {
			t.Errorf("%s should hear %v Hz: %s", who, f, tl)
		}
	}
	for _, f := range notWant {
		if tl.Heard(f) {
			t.Errorf("%s should not hear %v Hz: %s", who, f, tl)
		}
	}
}

func TestSwitchThreeWayMixAndHandOver(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end audio through the switch")
	}
	s := startSwitch(t, "a12345-1001", "a110-2001")
	agent12345 := agentPhone(t, s, "a12345-1001", 900)
	agent110 := agentPhone(t, s, "a110-2001", 1100)
	citizen, err := phone.New(t.Context(), phone.Options{User: "citizen", Registrar: s.registrar(), ToneHz: 700, Logger: zaptest.NewLogger(t).Named("citizen")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { citizen.Close() })
	ctx := ctxFor(t, 30*time.Second)

	// the citizen calls 12345; the controller answers and bridges the 12345 agent
	type result struct {
		c   *phone.Call
		err error
	}
	dialed := make(chan result, 1)
	go func() {
		c, err := citizen.Call(ctx, "12345", phone.Header{Name: "X-Linkage-Ticket", Value: "GD-2026-000456"})
		dialed <- result{c, err}
	}()
	inbound := s.stasisStart("12345")
	s.must("POST", "/channels/"+inbound+"/answer", 204)
	r := <-dialed
	if r.err != nil {
		t.Fatal(r.err)
	}
	cc := r.c
	s.must("POST", "/bridges?type=mixing&bridgeId=conf-1", 200)
	s.must("POST", "/channels?endpoint=PJSIP/a12345-1001&app=linkctl&appArgs=outbound,a12345&channelId=leg-12345", 200)
	s.stasisStart("a12345")
	s.must("POST", "/bridges/conf-1/addChannel?channel="+inbound+",leg-12345", 204)
	a1, err := agent12345.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.WaitHear(ctx, 900); err != nil {
		t.Fatalf("citizen does not hear the 12345 agent: %s", cc.Heard())
	}
	if err := a1.WaitHear(ctx, 700); err != nil {
		t.Fatalf("12345 agent does not hear the citizen: %s", a1.Heard())
	}

	// three-way: the 110 agent joins the same bridge
	s.must("POST", "/channels?endpoint=PJSIP/a110-2001&app=linkctl&appArgs=outbound,a110&channelId=leg-110", 200)
	s.stasisStart("a110")
	s.must("POST", "/bridges/conf-1/addChannel?channel=leg-110", 204)
	b1, err := agent110.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.WaitHear(ctx, 1100); err != nil {
		t.Fatalf("citizen does not hear the 110 agent: %s", cc.Heard())
	}
	mark := time.Now().Add(300 * time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	hearsOnly(t, "citizen", cc, mark, []float64{900, 1100}, []float64{700})
	hearsOnly(t, "12345 agent", a1, mark, []float64{700, 1100}, []float64{900})
	hearsOnly(t, "110 agent", b1, mark, []float64{700, 900}, []float64{1100})

	// hand-over: the 12345 agent leaves; the citizen stays with the 110 agent
	s.must("DELETE", "/channels/leg-12345", 204)
	select {
	case <-a1.Done():
	case <-ctx.Done():
		t.Fatal("12345 agent's phone was not hung up")
	}
	mark = time.Now().Add(300 * time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	hearsOnly(t, "citizen after hand-over", cc, mark, []float64{1100}, []float64{900, 700})
	hearsOnly(t, "110 agent after hand-over", b1, mark, []float64{700}, []float64{900, 1100})

	// the citizen hangs up; the switch ends the 110 agent's leg when told to
	if err := cc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	s.must("DELETE", "/channels/leg-110", 204)
	select {
	case <-b1.Done():
	case <-ctx.Done():
		t.Fatal("110 agent's phone was not hung up")
	}
}

func TestSwitchAnnouncementNeverSilent(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end audio through the switch")
	}
	s := startSwitch(t)
	citizen, err := phone.New(t.Context(), phone.Options{User: "citizen", Registrar: s.registrar(), ToneHz: 700, Logger: zaptest.NewLogger(t).Named("citizen")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { citizen.Close() })
	ctx := ctxFor(t, 20*time.Second)
	dialed := make(chan *phone.Call, 1)
	go func() {
		c, err := citizen.Call(ctx, "110")
		if err != nil {
			t.Error(err)
		}
		dialed <- c
	}()
	ch := s.stasisStart("110")
	s.must("POST", "/channels/"+ch+"/answer", 204)
	cc := <-dialed
	if cc == nil {
		t.FailNow()
	}
	start := time.Now()
	s.must("POST", "/channels/"+ch+"/play?media=sound:emergency-110&playbackId=pb-ann", 201)
	time.Sleep(2500 * time.Millisecond)
	s.must("POST", "/channels/"+ch+"/play?media=tone:ring%3Btonezone%3Dcn&playbackId=pb-ring", 201)
	if err := cc.WaitHear(ctx, 450); err != nil {
		t.Fatalf("no ringback: %s", cc.Heard())
	}
	tl := cc.Heard().Between(start.Add(200*time.Millisecond), time.Now())
	if got := tl.LongestSilence(); got > time.Second {
		t.Errorf("silence of %v during announcement and ringback: %s", got, tl)
	}
	if tl.Heard(700) {
		t.Errorf("citizen hears itself: %s", tl)
	}
	_ = cc.Hangup(ctx)
}
