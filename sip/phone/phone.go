package phone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/sip/media"
	"linkctl/sip/siplog"
)

// DTMFMode is how a phone sends DTMF.
type DTMFMode int

const (
	DTMFRFC4733 DTMFMode = iota // RTP telephone-events (default)
	DTMFInfo                    // SIP INFO, application/dtmf-relay
)

func (m DTMFMode) String() string {
	switch m {
	case DTMFRFC4733:
		return "rfc4733"
	case DTMFInfo:
		return "info"
	}
	return "DTMFMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseDTMFMode reads "rfc4733" (or "rfc2833") and "info".
func ParseDTMFMode(s string) (DTMFMode, error) {
	switch strings.ToLower(s) {
	case "", "rfc4733", "rfc2833":
		return DTMFRFC4733, nil
	case "info":
		return DTMFInfo, nil
	}
	return 0, fmt.Errorf("dtmf mode %q: want rfc4733 or info", s)
}

// Header is one SIP header name/value pair.
type Header struct{ Name, Value string }

// DefaultListen are the frequencies a phone watches for unless told otherwise:
// the call-progress tones of the cn and us zones, the 1 kHz beep, and a 100 Hz grid
// from 600 to 2000 Hz for the test phones' own tones.
var DefaultListen = []float64{350, 440, 450, 480, 620, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000}

// Options configure a Phone.
type Options struct {
	User        string // user part of our address of record, e.g. "a12345-1001"
	Password    string // digest password for REGISTER and challenged INVITEs
	DisplayName string
	// Registrar is where REGISTER goes and where calls to bare numbers go
	// ("127.0.0.1:5060"). Empty: the phone only calls full SIP URIs.
	Registrar string
	// Domain is the host part of our address of record (default: the registrar's host).
	Domain string
	// ListenAddr is the UDP address for SIP (default "127.0.0.1:0").
	ListenAddr string
	// ToneHz is the phone's own voice, a sine it sends all through a call (0 = silence).
	ToneHz float64
	// ToneAmplitude is the sine's peak (default 4000, about -18 dBFS).
	ToneAmplitude int16
	// Codecs in preference order (default PCMU, PCMA).
	Codecs   []media.Codec
	DTMFMode DTMFMode
	// Listen are the frequencies recorded in Heard timelines (default DefaultListen).
	Listen []float64
	// AutoAnswer answers incoming calls by itself after AnswerDelay of ringing when no
	// OnIncoming handler is set; answered calls are delivered by WaitCall.
	AutoAnswer  bool
	AnswerDelay time.Duration
	// RTPPortMin/Max bound the RTP ports (0: any).
	RTPPortMin, RTPPortMax int
	Logger                 *zap.Logger
}

// Phone is one SIP user agent with one UDP listener.
type Phone struct {
	opts   Options
	log    *zap.Logger
	conn   net.PacketConn
	laddr  *net.UDPAddr
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	dua    *sipgo.DialogUA
	ctx    context.Context
	cancel context.CancelFunc
	served chan struct{}

	wg sync.WaitGroup // media loops and request handlers, waited for by Close

	mu         sync.Mutex
	calls      map[string]*Call // by Call-ID
	onIncoming func(*Incoming)
	answered   chan *Call
	closed     bool
	closeDone  chan struct{}
}

// RegisterError is a REGISTER refused with a final status.
type RegisterError struct {
	Status int
	Reason string
}

func (e *RegisterError) Error() string {
	return fmt.Sprintf("register refused: %d %s", e.Status, e.Reason)
}

// CallError is an INVITE (or in-dialog request) refused with a final status.
type CallError struct {
	Method string
	Status int
	Reason string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s refused: %d %s", e.Method, e.Status, e.Reason)
}

// ErrClosed is returned by a closed phone.
var ErrClosed = errors.New("phone closed")

// New starts a phone listening on opts.ListenAddr. ctx bounds the phone's life
// (Close also ends it).
func New(ctx context.Context, opts Options) (*Phone, error) {
	if opts.User == "" {
		return nil, errors.New("phone: User is required")
	}
	if opts.ListenAddr == "" {
		opts.ListenAddr = "127.0.0.1:0"
	}
	if len(opts.Codecs) == 0 {
		opts.Codecs = media.DefaultCodecs
	}
	if len(opts.Listen) == 0 {
		opts.Listen = DefaultListen
	}
	if opts.ToneAmplitude == 0 {
		opts.ToneAmplitude = 4000
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Domain == "" && opts.Registrar != "" {
		host, _, err := net.SplitHostPort(opts.Registrar)
		if err != nil {
			return nil, fmt.Errorf("phone %s: registrar %q: %w", opts.User, opts.Registrar, err)
		}
		opts.Domain = host
	}
	conn, err := net.ListenPacket("udp", opts.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("phone %s: listen %s: %w", opts.User, opts.ListenAddr, err)
	}
	laddr := conn.LocalAddr().(*net.UDPAddr)
	if opts.Domain == "" {
		opts.Domain = laddr.IP.String()
	}
	p := &Phone{
		opts:      opts,
		log:       opts.Logger.With(zap.String("phone", opts.User), zap.Stringer("sip_addr", laddr)),
		conn:      conn,
		laddr:     laddr,
		calls:     make(map[string]*Call),
		answered:  make(chan *Call, 32),
		served:    make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	slogger := siplog.New(p.log.Named("sipgo"))
	host := laddr.IP.String()
	p.ua, err = sipgo.NewUA(sipgo.WithUserAgent("linkctl-phone"), sipgo.WithUserAgentHostname(host))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("phone %s: user agent: %w", opts.User, err)
	}
	if p.srv, err = sipgo.NewServer(p.ua, sipgo.WithServerLogger(slogger)); err != nil {
		p.ua.Close()
		conn.Close()
		return nil, fmt.Errorf("phone %s: server: %w", opts.User, err)
	}
	if p.client, err = sipgo.NewClient(p.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(laddr.Port), sipgo.WithClientLogger(slogger)); err != nil {
		p.ua.Close()
		conn.Close()
		return nil, fmt.Errorf("phone %s: client: %w", opts.User, err)
	}
	p.dua = &sipgo.DialogUA{Client: p.client, ContactHDR: sip.ContactHeader{Address: p.contactURI()}}
	p.srv.OnInvite(p.tracked(p.onInvite))
	p.srv.OnAck(p.tracked(p.onAck))
	p.srv.OnBye(p.tracked(p.onBye))
	p.srv.OnInfo(p.tracked(p.onInfo))
	p.srv.OnNotify(p.tracked(p.onNotify))
	p.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) { respond(tx, req, 200, "OK") })
	p.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	})
	p.srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) { respond(tx, req, 405, "Method Not Allowed") })

	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(p.served)
		if err := p.srv.ServeUDP(conn); err != nil && !errors.Is(err, net.ErrClosed) && p.ctx.Err() == nil {
			p.log.Warn("sip listener stopped", zap.Error(err))
		}
	}()
	// requests sent before the listener is registered would leave from a fresh
	// socket, with replies going nowhere: wait until sipgo knows the listener
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := p.ua.TransportLayer().GetConnection("udp", laddr.String()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, fmt.Errorf("phone %s: sip listener did not start", opts.User)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			p.Close()
		case <-p.ctx.Done():
		}
	}()
	return p, nil
}

// Addr is the phone's SIP address.
func (p *Phone) Addr() *net.UDPAddr { return p.laddr }

// URI is the phone's direct SIP URI (its contact), e.g. "sip:alice@127.0.0.1:40312".
func (p *Phone) URI() string { u := p.contactURI(); return u.String() }

// User is the phone's user name.
func (p *Phone) User() string { return p.opts.User }

// ToneHz is the frequency the phone sends in calls (0 = silent).
func (p *Phone) ToneHz() float64 { return p.opts.ToneHz }

func (p *Phone) contactURI() sip.Uri {
	return sip.Uri{Scheme: "sip", User: p.opts.User, Host: p.laddr.IP.String(), Port: p.laddr.Port}
}

func (p *Phone) aor() sip.Uri {
	return sip.Uri{Scheme: "sip", User: p.opts.User, Host: p.opts.Domain}
}

// OnIncoming sets the handler for new incoming calls; it runs on its own goroutine
// and must Answer, Ring or Reject. Without a handler calls are auto-answered
// (Options.AutoAnswer) or refused with 480.
func (p *Phone) OnIncoming(fn func(*Incoming)) {
	p.mu.Lock()
	p.onIncoming = fn
	p.mu.Unlock()
}

// WaitCall returns the next incoming call that was answered automatically.
func (p *Phone) WaitCall(ctx context.Context) (*Call, error) {
	select {
	case c := <-p.answered:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("phone %s: wait for a call: %w", p.opts.User, ctx.Err())
	}
}

// Calls returns the calls in progress.
func (p *Phone) Calls() []*Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		out = append(out, c)
	}
	return out
}

// Register registers the phone's contact with the registrar (digest auth when
// challenged) for expires (0: 3600 s; to unregister use Unregister).
func (p *Phone) Register(ctx context.Context) error { return p.register(ctx, 3600) }

// Unregister removes the phone's binding (Expires: 0).
func (p *Phone) Unregister(ctx context.Context) error { return p.register(ctx, 0) }

func (p *Phone) register(ctx context.Context, expires int) error {
	if p.opts.Registrar == "" {
		return fmt.Errorf("phone %s: register: no registrar configured", p.opts.User)
	}
	host, port, err := splitHostPort(p.opts.Registrar)
	if err != nil {
		return fmt.Errorf("phone %s: register: %w", p.opts.User, err)
	}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
	from := &sip.FromHeader{DisplayName: p.opts.DisplayName, Address: p.aor(), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: p.aor(), Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: p.contactURI()})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	res, err := p.client.Do(ctx, req, sipgo.ClientRequestRegisterBuild)
	if err != nil {
		return fmt.Errorf("phone %s: register: %w", p.opts.User, err)
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.opts.User, Password: p.opts.Password})
		if err != nil {
			return fmt.Errorf("phone %s: register with digest: %w", p.opts.User, err)
		}
	}
	if !res.IsSuccess() {
		return &RegisterError{Status: res.StatusCode, Reason: res.Reason}
	}
	p.log.Debug("registered", zap.Int("expires", expires))
	return nil
}

// targetURI turns "12345" into sip:12345@registrar and keeps full SIP URIs.
func (p *Phone) targetURI(target string) (sip.Uri, error) {
	var u sip.Uri
	if !strings.HasPrefix(target, "sip:") {
		if p.opts.Registrar == "" {
			return u, fmt.Errorf("call %q: no registrar to route a bare number to", target)
		}
		target = "sip:" + target + "@" + p.opts.Registrar
	}
	if err := sip.ParseUri(target, &u); err != nil {
		return u, fmt.Errorf("call %q: %w", target, err)
	}
	return u, nil
}

// Close hangs up every call (bounded) and stops the phone. It is idempotent.
func (p *Phone) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.closeDone // a concurrent Close (e.g. ctx ended) finishes first
		return nil
	}
	p.closed = true
	defer close(p.closeDone)
	calls := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { _ = c.Hangup(ctx) })
	}
	wg.Wait()
	p.cancel()
	err := p.ua.Close()
	p.conn.Close()
	<-p.served
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("phone %s: close: %w", p.opts.User, err)
	}
	return nil
}

// goTracked runs f on a goroutine Close waits for.
func (p *Phone) goTracked(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// tracked wraps a sipgo request handler so Close waits for it to return.
func (p *Phone) tracked(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			respond(tx, req, 503, "Service Unavailable")
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		defer p.wg.Done()
		h(req, tx)
	}
}

// fromListener makes req leave from the phone's SIP socket: sipgo sends
// in-dialog requests from a fresh ephemeral socket otherwise, which peers that
// identify endpoints by source address (Asterisk's identify, our switch) reject.
func (p *Phone) fromListener(req *sip.Request) {
	req.Laddr = sip.Addr{IP: p.laddr.IP, Port: p.laddr.Port}
}

func (p *Phone) addCall(c *Call) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.calls[c.callID] = c
	return nil
}

func (p *Phone) removeCall(c *Call) {
	p.mu.Lock()
	if p.calls[c.callID] == c {
		delete(p.calls, c.callID)
	}
	p.mu.Unlock()
}

func (p *Phone) callFor(req *sip.Request) *Call {
	id := req.CallID()
	if id == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id.Value()]
}

func (p *Phone) newSession() (*media.Session, error) {
	opts := []media.SessionOption{media.WithLogger(p.log)}
	if p.opts.RTPPortMin > 0 {
		opts = append(opts, media.WithPortRange(p.opts.RTPPortMin, p.opts.RTPPortMax))
	}
	s, err := media.NewSession(p.laddr.IP, opts...)
	if err != nil {
		return nil, fmt.Errorf("phone %s: rtp: %w", p.opts.User, err)
	}
	return s, nil
}

func respond(tx sip.ServerTransaction, req *sip.Request, status int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func splitHostPort(hp string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(hp)
	if err != nil {
		return hp, 5060, nil //nolint:nilerr // no port: the SIP default
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", hp)
	}
	return host, port, nil
}

func headersOf(m interface{ Headers() []sip.Header }) []Header {
	hs := m.Headers()
	out := make([]Header, 0, len(hs))
	for _, h := range hs {
		out = append(out, Header{Name: h.Name(), Value: h.Value()})
	}
	return out
}

// statusReason is the reason phrase we send with a status.
func statusReason(status int) string {
	switch status {
	case 180:
		return "Ringing"
	case 183:
		return "Session Progress"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 503:
		return "Service Unavailable"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	}
	return "Rejected"
}
