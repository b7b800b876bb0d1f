package tech_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap/zaptest"
	"golang.org/x/net/websocket"

	"linkctl/ari/embedded"
	"linkctl/config"
	"linkctl/sip/tech"
)

// End to end through the embedded switch: real SIP on loopback in, ARI
// (HTTP + websocket) out, exactly as the controller sees it.

type ariHarness struct {
	t    *testing.T
	sw   *embedded.Switch
	tc   *tech.Tech
	mu   sync.Mutex
	evs  []map[string]any
	wake chan struct{}
}

func startSwitch(t *testing.T, sipCfg func(*config.SIPConfig)) *ariHarness {
	t.Helper()
	cfg := config.Default()
	cfg.Switch.Listen = "127.0.0.1:0"
	cfg.Switch.SimEndpoints = nil
	cfg.SIP.ListenUDP = "127.0.0.1:0"
	cfg.SIP.ListenTCP = ""
	if sipCfg != nil {
		sipCfg(&cfg.SIP)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := zaptest.NewLogger(t)
	sw, err := embedded.Start(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tc, err := tech.Attach(ctx, sw.Engine, cfg.SIP, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tc.Close()
		cancel()
		sw.Close()
	})
	return &ariHarness{t: t, sw: sw, tc: tc, wake: make(chan struct{}, 1)}
}

func (h *ariHarness) connect(app string) {
	h.t.Helper()
	u := strings.Replace(h.sw.WebsocketURL, "/ari/events", "/ari/events?app="+app+"&subscribeAll=false", 1)
	wc, err := websocket.NewConfig(u, "http://localhost/")
	if err != nil {
		h.t.Fatal(err)
	}
	wc.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(h.sw.Username+":"+h.sw.Password)))
	ws, err := websocket.DialConfig(wc)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { ws.Close() })
	go func() {
		for {
			var msg string
			if websocket.Message.Receive(ws, &msg) != nil {
				return
			}
			var ev map[string]any
			if json.Unmarshal([]byte(msg), &ev) == nil {
				h.mu.Lock()
				h.evs = append(h.evs, ev)
				h.mu.Unlock()
				select {
				case h.wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	for i := 0; i < 400; i++ {
		if _, err := h.sw.Engine.Application(app); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatal("application never registered")
}

// event waits for the first event of type typ (after skipping n of that type).
func (h *ariHarness) event(typ string, match func(map[string]any) bool) map[string]any {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		h.mu.Lock()
		for _, ev := range h.evs {
			if ev["type"] == typ && (match == nil || match(ev)) {
				h.mu.Unlock()
				return ev
			}
		}
		h.mu.Unlock()
		select {
		case <-h.wake:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("no %s event", typ)
		}
	}
}

func (h *ariHarness) ari(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.sw.URL+path, rd)
	req.SetBasicAuth(h.sw.Username, h.sw.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// ua is a minimal softphone: sipgo on a loopback UDP port.
type ua struct {
	addr *net.UDPAddr
	cli  *sipgo.Client
	srv  *sipgo.Server
	dua  *sipgo.DialogUA
	mu   sync.Mutex
	got  []*sip.Request
}

func newUA(t *testing.T, user string) *ua {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &ua{addr: pc.LocalAddr().(*net.UDPAddr)}
	agent, _ := sipgo.NewUA(sipgo.WithUserAgent(user))
	u.srv, _ = sipgo.NewServer(agent)
	u.cli, _ = sipgo.NewClient(agent, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(u.addr.String()))
	u.dua = &sipgo.DialogUA{Client: u.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: u.addr.Port}}}
	record := func(req *sip.Request) {
		u.mu.Lock()
		u.got = append(u.got, req)
		u.mu.Unlock()
	}
	u.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		record(req)
		dlg, err := u.dua.ReadInvite(req, tx)
		if err != nil {
			return
		}
		dlg.Respond(180, "Ringing", nil)
		time.Sleep(50 * time.Millisecond)
		body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
		if dlg.RespondSDP([]byte(body)) == nil {
			<-dlg.Context().Done()
		}
	})
	u.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {})
	u.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		record(req)
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go u.srv.ServeUDP(pc)
	for i := 0; i < 200; i++ {
		if c, _ := u.srv.TransportLayer().GetConnection("udp", u.addr.String()); c != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() { agent.Close(); pc.Close() })
	return u
}

func (u *ua) received(method sip.RequestMethod) *sip.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range u.got {
		if r.Method == method {
			return r
		}
	}
	return nil
}

func (u *ua) call(ctx context.Context, h *ariHarness, exten string, hdrs ...sip.Header) (*sipgo.DialogClientSession, error) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: exten, Host: "127.0.0.1", Port: h.tc.UDPAddr().Port})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, hd := range hdrs {
		req.AppendHeader(hd)
	}
	req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"))
	return u.dua.WriteInvite(ctx, req)
}

// A SIP phone calls 12345: StasisStart(inbound,12345) over ARI, the app
// answers, reads a SIP header, and the caller's BYE ends it (StasisEnd).
func TestE2EInboundStasis(t *testing.T) {
	h := startSwitch(t, nil)
	h.connect("linkctl")
	citizen := newUA(t, "citizen")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dlg, err := citizen.call(ctx, h, "12345", sip.NewHeader("X-Linkage-Ticket", "GD-2026-000456"))
	if err != nil {
		t.Fatal(err)
	}
	ss := h.event("StasisStart", nil)
	ch := ss["channel"].(map[string]any)
	id := ch["id"].(string)
	if args := fmt.Sprint(ss["args"]); args != "[inbound 12345]" {
		t.Fatalf("args %s", args)
	}
	if name := ch["name"].(string); !strings.HasPrefix(name, "PJSIP/anonymous-") || ch["state"] != "Ring" {
		t.Fatalf("channel %v", ch)
	}
	st, v := h.ari("GET", "/channels/"+id+"/variable?variable=PJSIP_HEADER(read,X-Linkage-Ticket)", nil)
	if st != 200 || v["value"] != "GD-2026-000456" {
		t.Fatalf("PJSIP_HEADER(read) -> %d %v", st, v)
	}
	if st, _ := h.ari("POST", "/channels/"+id+"/answer", nil); st != 204 {
		t.Fatalf("answer -> %d", st)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	h.event("ChannelStateChange", func(ev map[string]any) bool {
		return ev["channel"].(map[string]any)["state"] == "Up"
	})
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	h.event("StasisEnd", nil)
}

// No application connected: the caller gets 603 Decline with
// "Reason: Q.850;cause=16" (trace t13-ws-none-inbound).
func TestE2ENoApplication(t *testing.T) {
	h := startSwitch(t, nil)
	citizen := newUA(t, "citizen")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dlg, err := citizen.call(ctx, h, "12345")
	if err != nil {
		t.Fatal(err)
	}
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{})
	var dr *sipgo.ErrDialogResponse
	if !errors.As(err, &dr) || dr.Res.StatusCode != 603 {
		t.Fatalf("WaitAnswer = %v, want 603", err)
	}
	if r := dr.Res.GetHeader("Reason"); r == nil || r.Value() != "Q.850;cause=16" {
		t.Fatalf("Reason = %v", r)
	}
}

// Originate to a registered agent phone with PJSIP_HEADER(add,...): the
// INVITE carries the headers, the leg enters Stasis when answered, and
// DELETE sends BYE with "Reason: Q.850;cause=16".
func TestE2EOriginateRegisteredPhone(t *testing.T) {
	h := startSwitch(t, func(c *config.SIPConfig) {
		c.Accounts = []config.SIPAccount{{Username: "a110-2001", Password: "pw", Platform: "110", AgentID: "2001"}}
	})
	h.connect("linkctl")
	phone := newUA(t, "a110-2001")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reg := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: h.tc.UDPAddr().Port})
	aor := sip.Uri{Scheme: "sip", User: "a110-2001", Host: "127.0.0.1"}
	reg.AppendHeader(&sip.ToHeader{Address: aor})
	reg.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a110-2001", Host: "127.0.0.1", Port: phone.addr.Port}})
	res, err := phone.cli.Do(ctx, reg)
	if err == nil && res.StatusCode == 401 {
		res, err = phone.cli.DoDigestAuth(ctx, reg, res, sipgo.DigestAuth{Username: "a110-2001", Password: "pw"})
	}
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER: %v %v", res, err)
	}
	st, body := h.ari("POST", "/channels?endpoint=PJSIP/a110-2001&app=linkctl&appArgs=outbound,110&channelId=lk-agent-1", map[string]any{
		"variables": map[string]string{
			"PJSIP_HEADER(add,X-Linkage-Ticket)": "GD-2026-000123",
			"PJSIP_HEADER(add,User-to-User)":     tech.FormatUserToUser([]byte("GD-2026-000123")),
		},
	})
	if st != 200 {
		t.Fatalf("originate -> %d %v", st, body)
	}
	h.event("StasisStart", func(ev map[string]any) bool { return ev["channel"].(map[string]any)["id"] == "lk-agent-1" })
	inv := phone.received(sip.INVITE)
	if inv == nil || inv.GetHeader("X-Linkage-Ticket").Value() != "GD-2026-000123" ||
		inv.GetHeader("User-to-User").Value() != "47442D323032362D303030313233;encoding=hex" {
		t.Fatalf("INVITE headers wrong: %v", inv)
	}
	if st, _ := h.ari("DELETE", "/channels/lk-agent-1", nil); st != 204 {
		t.Fatalf("DELETE -> %d", st)
	}
	h.event("ChannelDestroyed", nil)
	deadline := time.Now().Add(5 * time.Second)
	for phone.received(sip.BYE) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	bye := phone.received(sip.BYE)
	if bye == nil || bye.GetHeader("Reason") == nil || bye.GetHeader("Reason").Value() != "Q.850;cause=16" {
		t.Fatalf("BYE = %v", bye)
	}
	if st, _ := h.ari("POST", "/channels?endpoint=PJSIP/nobody&app=linkctl", nil); st != 500 {
		t.Fatalf("originate to unknown endpoint -> %d, want 500", st)
	}
}
