package tech

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"linkctl/ari/engine"
	"linkctl/config"
)

const waitFor = 5 * time.Second

// ---- a fake engine: the InboundRouter and ChannelControl the switch core provides ----

type fakeEngine struct {
	mu      sync.Mutex
	n       int
	reject  *engine.RejectError
	inbound chan *fakeChan
}

func newFakeEngine() *fakeEngine { return &fakeEngine{inbound: make(chan *fakeChan, 16)} }

func (e *fakeEngine) Inbound(call engine.InboundCall) (engine.ChannelControl, error) {
	e.mu.Lock()
	rej := e.reject
	e.n++
	id := fmt.Sprintf("in-%d", e.n)
	e.mu.Unlock()
	if rej != nil {
		return nil, rej
	}
	ch := newFakeChan(id)
	ch.call = call
	// The engine's contract: TechPrivate is on the channel, and attached, before
	// the application hears of it (the test answers as soon as it gets ch).
	ch.priv = call.TechPrivate
	if a, ok := call.TechPrivate.(engine.ChannelAttacher); ok {
		a.AttachChannel(ch)
	}
	e.inbound <- ch
	return ch, nil
}

func (e *fakeEngine) nextInbound(t *testing.T) *fakeChan {
	t.Helper()
	select {
	case ch := <-e.inbound:
		return ch
	case <-time.After(waitFor):
		t.Fatal("no inbound call reached the engine")
		return nil
	}
}

type fakeChan struct {
	id     string
	call   engine.InboundCall
	mu     sync.Mutex
	priv   any
	media  engine.MediaPort
	events chan string
}

func newFakeChan(id string) *fakeChan { return &fakeChan{id: id, events: make(chan string, 64)} }

func (c *fakeChan) ID() string   { return c.id }
func (c *fakeChan) Name() string { return "PJSIP/x-" + c.id }
func (c *fakeChan) TechPrivate() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.priv
}
func (c *fakeChan) SetTechPrivate(v any) {
	c.mu.Lock()
	c.priv = v
	c.mu.Unlock()
}
func (c *fakeChan) Ringing()                      { c.events <- "ringing" }
func (c *fakeChan) Answered()                     { c.events <- "answered" }
func (c *fakeChan) Hangup(cause int)              { c.events <- fmt.Sprintf("hangup:%d", cause) }
func (c *fakeChan) DTMF(d string, ms int)         { c.events <- fmt.Sprintf("dtmf:%s:%d", d, ms) }
func (c *fakeChan) TransferRequested(dest string) { c.events <- "transfer:" + dest }
func (c *fakeChan) Hold()                         { c.events <- "hold" }
func (c *fakeChan) Unhold()                       { c.events <- "unhold" }
func (c *fakeChan) SetMedia(p engine.MediaPort) {
	c.mu.Lock()
	c.media = p
	c.mu.Unlock()
}

func (c *fakeChan) mediaPort() engine.MediaPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.media
}

// expect waits for the next event and checks it.
func (c *fakeChan) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-c.events:
		if got != want {
			t.Fatalf("channel %s: event %q, want %q", c.id, got, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("channel %s: no event, want %q", c.id, want)
	}
}

// expectNone checks that no event arrives for d.
func (c *fakeChan) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-c.events:
		t.Fatalf("channel %s: unexpected event %q", c.id, got)
	case <-time.After(d):
	}
}

// ---- the technology under test ----

func testConfig() config.SIPConfig {
	c := config.Default().SIP
	c.ListenUDP = "127.0.0.1:0"
	c.ListenTCP = "127.0.0.1:0"
	return c
}

func startTech(t *testing.T, cfg config.SIPConfig, eng engine.InboundRouter, now func() time.Time) *Tech {
	t.Helper()
	tc, err := New(Options{Config: cfg, Router: eng, Logger: testLogger(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	return tc
}

// testLogger logs to t until the test's cleanups have run: sipgo's transaction
// timers outlive Close and may log after the test ended, which zaptest turns
// into a data race on t (seen in TestTortureCorpus under -race).
func testLogger(t testing.TB) *zap.Logger {
	w := &stoppableTestWriter{t: t}
	t.Cleanup(w.stop) // registered first, so it runs after every later cleanup
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zapcore.DebugLevel))
}

type stoppableTestWriter struct {
	mu      sync.RWMutex
	t       testing.TB
	stopped bool
}

func (w *stoppableTestWriter) Write(p []byte) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.stopped {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *stoppableTestWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// ---- a SIP peer on loopback (phone or trunk) that records the wire ----

type wireMsg struct {
	in  bool // received by the peer
	msg sip.Message
}

type wire struct {
	mu     sync.Mutex
	msgs   []wireMsg
	notify chan struct{}
}

func (w *wire) add(in bool, b []byte) {
	m, err := sip.ParseMessage(append([]byte(nil), b...))
	if err != nil {
		return
	}
	w.mu.Lock()
	w.msgs = append(w.msgs, wireMsg{in: in, msg: m})
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

type tapConn struct {
	net.PacketConn
	w *wire
}

func (c *tapConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	if n > 0 {
		c.w.add(true, b[:n])
	}
	return n, a, err
}

func (c *tapConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.w.add(false, b)
	return c.PacketConn.WriteTo(b, a)
}

type peer struct {
	t    testing.TB
	user string
	addr *net.UDPAddr
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	dua  *sipgo.DialogUA
	wire *wire
	conn *tapConn

	mu     sync.Mutex
	script []int
	uas    *sipgo.DialogServerSession
}

func newPeer(t testing.TB, user string) *peer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wire{notify: make(chan struct{}, 1)}
	p := &peer{t: t, user: user, addr: pc.LocalAddr().(*net.UDPAddr), wire: w, conn: &tapConn{PacketConn: pc, w: w}}
	p.ua, err = sipgo.NewUA(sipgo.WithUserAgent("peer-" + user))
	if err != nil {
		t.Fatal(err)
	}
	p.srv, _ = sipgo.NewServer(p.ua)
	p.cli, _ = sipgo.NewClient(p.ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(p.addr.String()))
	p.dua = &sipgo.DialogUA{Client: p.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: p.addr.Port}}}
	p.installHandlers()
	go p.srv.ServeUDP(p.conn)
	for i := 0; i < 200; i++ {
		if c, _ := p.srv.TransportLayer().GetConnection("udp", p.addr.String()); c != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		p.ua.Close()
		pc.Close()
	})
	return p
}

// await waits until a message matching f crossed the peer's socket.
func (p *peer) await(f func(wireMsg) bool, what string) sip.Message {
	p.t.Helper()
	deadline := time.After(waitFor)
	seen := 0
	for {
		p.wire.mu.Lock()
		msgs := p.wire.msgs[seen:]
		p.wire.mu.Unlock()
		for _, m := range msgs {
			seen++
			if f(m) {
				return m.msg
			}
		}
		select {
		case <-p.wire.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			p.t.Fatalf("peer %s: never saw %s; wire:\n%s", p.user, what, p.dump())
		}
	}
}

func (p *peer) dump() string {
	p.wire.mu.Lock()
	defer p.wire.mu.Unlock()
	var b strings.Builder
	for _, m := range p.wire.msgs {
		dir := "->"
		if m.in {
			dir = "<-"
		}
		fmt.Fprintf(&b, "%s %s\n", dir, firstLine(m.msg))
	}
	return b.String()
}

// count counts received messages matching f.
func (p *peer) count(f func(wireMsg) bool) int {
	p.wire.mu.Lock()
	defer p.wire.mu.Unlock()
	n := 0
	for _, m := range p.wire.msgs {
		if f(m) {
			n++
		}
	}
	return n
}

func gotResponse(method sip.RequestMethod, status int) func(wireMsg) bool {
	return func(m wireMsg) bool {
		r, ok := m.msg.(*sip.Response)
		return ok && m.in && r.StatusCode == status && r.CSeq() != nil && r.CSeq().MethodName == method
	}
}

func sentResponse(method sip.RequestMethod, status int) func(wireMsg) bool {
	return func(m wireMsg) bool {
		r, ok := m.msg.(*sip.Response)
		return ok && !m.in && r.StatusCode == status && r.CSeq() != nil && r.CSeq().MethodName == method
	}
}

func gotRequest(method sip.RequestMethod) func(wireMsg) bool {
	return func(m wireMsg) bool {
		r, ok := m.msg.(*sip.Request)
		return ok && m.in && r.Method == method
	}
}

func header(m sip.Message, name string) string {
	var h sip.Header
	switch m := m.(type) {
	case *sip.Request:
		h = m.GetHeader(name)
	case *sip.Response:
		h = m.GetHeader(name)
	}
	if h == nil {
		return ""
	}
	return h.Value()
}

// sippOffer is the offer sipp sends in the traces (PCMU + telephone-event/101).
func sippOffer(port int, codecs string) []byte {
	return []byte("v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + fmt.Sprint(port) + " RTP/AVP " + codecs + "\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n")
}

// invite sends an INVITE from the peer to the technology.
func (p *peer) invite(ctx context.Context, tc *Tech, exten string, body []byte, hdrs ...sip.Header) (*sipgo.DialogClientSession, error) {
	p.t.Helper()
	uri := sip.Uri{Scheme: "sip", User: exten, Host: "127.0.0.1", Port: tc.UDPAddr().Port}
	req := sip.NewRequest(sip.INVITE, uri)
	from := &sip.FromHeader{DisplayName: "caller", Address: sip.Uri{Scheme: "sip", User: p.user, Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	req.SetBody(body)
	return p.dua.WriteInvite(ctx, req)
}

// answerWith sets how the peer answers INVITEs: each status in turn (1xx
// then a final); no statuses means it never answers.
func (p *peer) answerWith(statuses ...int) {
	p.mu.Lock()
	p.script = statuses
	p.mu.Unlock()
}

func (p *peer) installHandlers() {
	p.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if to := req.To(); to != nil {
			if _, has := to.Params.Get("tag"); has { // re-INVITE: accept as is
				tx.Respond(sip.NewSDPResponseFromRequest(req, sippOffer(40000, "0 101")))
				return
			}
		}
		p.mu.Lock()
		statuses := p.script
		p.mu.Unlock()
		dlg, err := p.dua.ReadInvite(req, tx)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.uas = dlg
		p.mu.Unlock()
		for i, s := range statuses {
			if i > 0 {
				// sipgo hands each datagram to its own goroutine, so a 200
				// sent right behind a 180 may overtake it; phones are slower.
				time.Sleep(30 * time.Millisecond)
			}
			switch {
			case s == 200:
				if err := dlg.RespondSDP(sippOffer(40000, "0 101")); err != nil {
					return
				}
				<-dlg.Context().Done()
				return
			case s < 200:
				dlg.Respond(s, "Ringing", nil)
			default:
				dlg.Respond(s, "Failure", nil)
				return
			}
		}
		select {
		case <-dlg.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		dlg := p.uas
		p.mu.Unlock()
		if dlg != nil {
			dlg.ReadAck(req, tx)
		}
	})
	ok := func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
	p.srv.OnBye(ok)
	p.srv.OnNotify(ok)
	p.srv.OnInfo(ok)
	p.srv.OnOptions(ok)
	p.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {})
}

// register registers the peer as account user with password.
func (p *peer) register(tc *Tech, password string, expires int) (*sip.Response, error) {
	p.t.Helper()
	uri := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: tc.UDPAddr().Port}
	req := sip.NewRequest(sip.REGISTER, uri)
	aor := sip.Uri{Scheme: "sip", User: p.user, Host: "127.0.0.1"}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: "127.0.0.1", Port: p.addr.Port}})
	req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(expires)))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := p.cli.Do(ctx, req)
	if err != nil || res.StatusCode != 401 || password == "" {
		return res, err
	}
	return p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: password})
}

func firstLine(m sip.Message) string {
	s := m.String()
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
