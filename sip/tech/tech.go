package tech

import (
	"context"
	"crypto/rand"
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

	"linkctl/ari/engine"
	"linkctl/config"
	"linkctl/sip/siplog"
)

// Name is the technology prefix of dial strings.
const Name = "PJSIP"

// allowHeader is what we advertise (the methods we handle).
const allowHeader = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, REGISTER"

// Options configure a Tech.
type Options struct {
	Config config.SIPConfig
	// Router receives inbound calls; it may also be set later with SetRouter
	// (the engine is usually built after its technologies).
	Router engine.InboundRouter
	// Logger is used as given (name it, e.g. log.Named("sip")); nil discards.
	Logger *zap.Logger
	// Media binds RTP sessions; nil means NullMedia (signalling only).
	Media MediaFactory
	// Now is the clock for registrations (tests); nil means time.Now.
	Now func() time.Time
}

// Tech is the SIP channel technology. Create with New, then Start.
type Tech struct {
	cfg    config.SIPConfig
	log    *zap.Logger
	media  MediaFactory
	codecs []Codec
	dir    *directory

	routerMu sync.RWMutex
	router   engine.InboundRouter

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client

	udpConn net.PacketConn
	tcpLn   net.Listener
	udpAddr *net.UDPAddr
	tcpAddr *net.TCPAddr
	dialogs map[string]*dialogUA // by transport

	callsMu sync.Mutex
	calls   map[string]*call // by dialog key (Call-ID + local tag)

	nonceKey [32]byte

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// endCtx outlives ctx through Shutdown, so the hang-ups in flight (ends)
	// can be answered; Close cuts it when the transport closes.
	endCtx    context.Context
	endCancel context.CancelFunc
	ends      endings
	closeOnce sync.Once
	closeErr  error

	// handlers in flight, so Close can wait for them (sipgo runs each
	// request on its own goroutine and does not wait on shutdown).
	hmu          sync.Mutex
	shuttingDown bool // Shutdown began: new INVITEs get 503, dialogs go on
	closing      bool // the transport is closing: every request is dropped
	hwg          sync.WaitGroup
}

type dialogUA = sipgo.DialogUA

// New builds the technology; nothing is bound until Start.
func New(o Options) (*Tech, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Media == nil {
		o.Media = NullMedia
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	t := &Tech{
		cfg:     o.Config,
		log:     o.Logger,
		media:   o.Media,
		codecs:  codecsFromNames(o.Config.Codecs),
		dir:     newDirectory(o.Config, o.Now),
		router:  o.Router,
		calls:   map[string]*call{},
		dialogs: map[string]*dialogUA{},
	}
	if _, err := rand.Read(t.nonceKey[:]); err != nil {
		return nil, fmt.Errorf("sip: nonce key: %w", err)
	}
	return t, nil
}

// Switch is what Attach needs from the engine: it takes technologies and
// routes their inbound calls (*engine.Engine implements it).
type Switch interface {
	engine.InboundRouter
	RegisterTech(engine.Technology)
}

// Attach builds the SIP technology with real RTP media, registers it on the
// switch and starts it: the one call the wiring (embedded switch / cmd) needs.
func Attach(ctx context.Context, sw Switch, cfg config.SIPConfig, log *zap.Logger) (*Tech, error) {
	if log == nil {
		log = zap.NewNop()
	}
	t, err := New(Options{Config: cfg, Router: sw, Logger: log.Named("sip"), Media: RTPMedia(cfg, log.Named("rtp"))})
	if err != nil {
		return nil, err
	}
	sw.RegisterTech(t)
	if err := t.Start(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// SetRouter sets the engine that receives inbound calls.
func (t *Tech) SetRouter(r engine.InboundRouter) {
	t.routerMu.Lock()
	t.router = r
	t.routerMu.Unlock()
}

func (t *Tech) inboundRouter() engine.InboundRouter {
	t.routerMu.RLock()
	defer t.routerMu.RUnlock()
	return t.router
}

// Start binds the configured listeners and starts serving, registration
// expiry and trunk health checks. It returns once the sockets are bound.
func (t *Tech) Start(ctx context.Context) error {
	t.ctx, t.cancel = context.WithCancel(context.WithoutCancel(ctx))
	t.endCtx, t.endCancel = context.WithCancel(context.WithoutCancel(ctx))
	slogger := siplog.New(t.log.Named("sipgo"))

	if t.cfg.ListenUDP != "" {
		c, err := net.ListenPacket("udp", t.cfg.ListenUDP)
		if err != nil {
			return fmt.Errorf("sip: listen udp %s: %w", t.cfg.ListenUDP, err)
		}
		t.udpConn = c
		t.udpAddr = c.LocalAddr().(*net.UDPAddr)
	}
	if t.cfg.ListenTCP != "" {
		tcpAddr := t.cfg.ListenTCP
		if t.udpAddr != nil && tcpAddr == t.cfg.ListenUDP && strings.HasSuffix(tcpAddr, ":0") {
			// Same port for both transports when the port is chosen for us.
			tcpAddr = t.udpAddr.String()
		}
		l, err := net.Listen("tcp", tcpAddr)
		if err != nil && tcpAddr != t.cfg.ListenTCP {
			// That port is taken for TCP: any free one will do.
			l, err = net.Listen("tcp", t.cfg.ListenTCP)
		}
		if err != nil {
			t.closeSockets()
			return fmt.Errorf("sip: listen tcp %s: %w", tcpAddr, err)
		}
		t.tcpLn = l
		t.tcpAddr = l.Addr().(*net.TCPAddr)
	}
	host, port := t.localHostPort()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(t.cfg.UserAgent), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(slogger),
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				// Late retransmissions (a 100 after the 200, a 200 after our ACK) are normal on UDP.
				t.log.Debug("sip response outside any transaction", zap.Int("status", r.StatusCode), zap.String("source", r.Source()))
			})),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slogger)))
	if err != nil {
		t.closeSockets()
		return fmt.Errorf("sip: user agent: %w", err)
	}
	t.ua = ua
	if t.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(slogger)); err != nil {
		t.closeSockets()
		return fmt.Errorf("sip: server: %w", err)
	}
	if t.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(port), sipgo.WithClientNAT(), sipgo.WithClientLogger(slogger)); err != nil {
		t.closeSockets()
		return fmt.Errorf("sip: client: %w", err)
	}
	for _, tr := range []string{"udp", "tcp"} {
		params := sip.NewParams()
		if tr == "tcp" {
			params.Add("transport", "tcp")
		}
		t.dialogs[tr] = &sipgo.DialogUA{
			Client:     t.client,
			ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "linkctl", Host: host, Port: t.portFor(tr), UriParams: params}},
		}
	}
	t.srv.OnInvite(t.track(t.onInvite))
	t.srv.OnAck(t.track(t.onAck))
	t.srv.OnCancel(t.track(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL matching a pending INVITE is answered by the transaction
		// layer; one that matches nothing gets 481.
		t.respond(tx, req, 481, "Call/Transaction Does Not Exist")
	}))
	t.srv.OnBye(t.track(t.onBye))
	t.srv.OnInfo(t.track(t.onInfo))
	t.srv.OnRefer(t.track(t.onRefer))
	t.srv.OnNotify(t.track(t.onNotify))
	t.srv.OnOptions(t.track(t.onOptions))
	t.srv.OnRegister(t.track(t.onRegister))
	t.srv.OnNoRoute(t.track(func(req *sip.Request, tx sip.ServerTransaction) {
		t.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowHeader))
	}))
	if t.udpConn != nil {
		t.serve(func() error { return t.srv.ServeUDP(t.udpConn) })
		// Requests we originate are pinned to this socket (setLocal); wait
		// until the transport layer knows it.
		for i := 0; i < 200; i++ {
			if c, _ := t.srv.TransportLayer().GetConnection("udp", t.udpAddr.String()); c != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if t.tcpLn != nil {
		t.serve(func() error { return t.srv.ServeTCP(t.tcpLn) })
	}
	t.wg.Add(1)
	go t.expireLoop()
	t.startHealth()
	t.log.Info("sip listening", zap.Stringer("udp", addrOrNone(t.udpAddr)), zap.Stringer("tcp", addrOrNone(t.tcpAddr)))
	return nil
}

// track counts a handler in flight; after Close starts, requests are dropped.
func (t *Tech) track(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		t.hmu.Lock()
		if t.closing {
			t.hmu.Unlock()
			return
		}
		if t.shuttingDown && req.IsInvite() && !inDialog(req) {
			// Calls in progress still get their ACKs and BYEs; a new one is refused.
			t.hmu.Unlock()
			t.respond(tx, req, 503, "Service Unavailable", retryAfterHeader(closeGrace))
			return
		}
		t.hwg.Add(1)
		t.hmu.Unlock()
		defer t.hwg.Done()
		if err := checkRequest(req); err != nil {
			t.log.Info("inbound request refused", zap.String("method", string(req.Method)), zap.String("source", req.Source()), zap.Error(err))
			if !req.IsAck() {
				t.respond(tx, req, 400, "Bad Request")
			}
			return
		}
		h(req, tx)
	}
}

// inDialog reports whether req belongs to an existing dialog (its To has a tag).
func inDialog(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	_, has := to.Params.Get("tag")
	return has
}

func addrOrNone(a net.Addr) fmt.Stringer {
	if a == nil || (fmt.Sprint(a) == "<nil>") {
		return stringer("none")
	}
	return a
}

type stringer string

func (s stringer) String() string { return string(s) }

func (t *Tech) serve(f func() error) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) && t.ctx.Err() == nil {
			t.log.Error("sip listener stopped", zap.Error(err))
		}
	}()
}

func (t *Tech) localHostPort() (string, int) {
	if t.udpAddr != nil {
		return t.udpAddr.IP.String(), t.udpAddr.Port
	}
	return t.tcpAddr.IP.String(), t.tcpAddr.Port
}

func (t *Tech) portFor(transport string) int {
	if transport == "tcp" && t.tcpAddr != nil {
		return t.tcpAddr.Port
	}
	if t.udpAddr != nil {
		return t.udpAddr.Port
	}
	return t.tcpAddr.Port
}

// UDPAddr / TCPAddr are the bound listener addresses (nil when disabled).
func (t *Tech) UDPAddr() *net.UDPAddr { return t.udpAddr }
func (t *Tech) TCPAddr() *net.TCPAddr { return t.tcpAddr }

// Close ends every call still live with cause 16 (Shutdown: BYE, CANCEL or
// 503, each answered or given up on within closeGrace), then stops listeners,
// probes and transactions and waits for them, bounded.
func (t *Tech) Close() error {
	if t.cancel == nil {
		return nil
	}
	t.closeOnce.Do(func() { t.closeErr = t.close() })
	return t.closeErr
}

func (t *Tech) close() error {
	sctx, scancel := context.WithTimeout(context.Background(), closeGrace)
	if err := t.Shutdown(sctx); err != nil {
		t.log.Warn("sip close: hang-ups not all answered", zap.Error(err))
	}
	scancel()
	t.hmu.Lock()
	t.closing = true
	t.hmu.Unlock()
	t.cancel()
	t.endCancel()
	t.callsMu.Lock()
	calls := make([]*call, 0, len(t.calls))
	for _, c := range t.calls {
		calls = append(calls, c)
	}
	t.callsMu.Unlock()
	for _, c := range calls {
		c.release()
	}
	var err error
	if t.ua != nil {
		err = t.ua.Close()
	}
	t.closeSockets()
	done := make(chan struct{})
	go func() { t.wg.Wait(); t.hwg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.log.Warn("sip close: goroutines still running after 5s")
	}
	return err
}

func (t *Tech) closeSockets() {
	if t.udpConn != nil {
		t.udpConn.Close()
	}
	if t.tcpLn != nil {
		t.tcpLn.Close()
	}
}

// Name implements engine.Technology.
func (t *Tech) Name() string { return Name }

// Exists implements engine.Technology: a registered account, or a trunk that
// is not known to be down ("110@to110" dials number 110 over trunk to110).
func (t *Tech) Exists(resource string) bool {
	_, err := t.resolve(resource)
	return err == nil
}

// Endpoints implements engine.Technology.
func (t *Tech) Endpoints() []engine.EndpointInfo { return t.dir.endpoints() }

// Registered reports the contact of a registered account (for tests and the API).
func (t *Tech) Registered(username string) (contact string, ok bool) {
	b, ok := t.dir.contact(username)
	if !ok {
		return "", false
	}
	return b.Contact.String(), true
}

// Trunks reports every trunk's health.
func (t *Tech) Trunks() []TrunkStatus { return t.dir.trunkStatuses() }

// PlatformReachable reports whether at least one trunk towards platform is
// not down. A platform with no trunk at all is reported unreachable.
func (t *Tech) PlatformReachable(platform string) bool {
	for _, s := range t.dir.trunkStatuses() {
		if s.Platform == platform && s.State != TrunkDown {
			return true
		}
	}
	return false
}

var (
	// ErrUnknownEndpoint: the dial string names no account or trunk.
	ErrUnknownEndpoint = errors.New("unknown endpoint")
	// ErrNotRegistered: the account has no live registration.
	ErrNotRegistered = errors.New("endpoint not registered")
	// ErrTrunkDown: the trunk failed its OPTIONS probes.
	ErrTrunkDown = errors.New("trunk down")
)

// target is where a dial string leads.
type target struct {
	Endpoint  string
	URI       sip.Uri
	Transport string
	Dest      string // host:port to send to
	DTMFInfo  bool
	AuthUser  string
	AuthPass  string
	Trunk     bool
}

func (t *Tech) resolve(resource string) (target, error) {
	number, ep, hasAt := strings.Cut(resource, "@")
	if !hasAt {
		ep, number = resource, ""
	}
	if ep == "" || strings.ContainsAny(ep, "/ ") {
		return target{}, fmt.Errorf("%w: %q", ErrUnknownEndpoint, resource)
	}
	if acc, ok := t.dir.account(ep); ok {
		b, ok := t.dir.contact(ep)
		if !ok {
			return target{}, fmt.Errorf("%w: %s", ErrNotRegistered, ep)
		}
		uri := *b.Contact.Clone()
		if number != "" {
			uri.User = number
		}
		return target{Endpoint: ep, URI: uri, Transport: b.Transport, Dest: b.Source, DTMFInfo: acc.DTMFMode == "info"}, nil
	}
	tr, st, ok := t.dir.trunk(ep)
	if !ok {
		return target{}, fmt.Errorf("%w: %q", ErrUnknownEndpoint, resource)
	}
	if st == TrunkDown {
		return target{}, fmt.Errorf("%w: %s", ErrTrunkDown, ep)
	}
	host, portStr, _ := net.SplitHostPort(tr.Address)
	port, _ := strconv.Atoi(portStr)
	user := number
	if user == "" {
		user = ep
	}
	transport := tr.Transport
	if transport == "" {
		transport = "udp"
	}
	uri := sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
	if transport == "tcp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tcp")
	}
	return target{Endpoint: ep, URI: uri, Transport: transport, Dest: tr.Address, DTMFInfo: tr.DTMFMode == "info",
		AuthUser: tr.Username, AuthPass: tr.Secret(), Trunk: true}, nil
}

// respond sends a stateful response with our Server header.
func (t *Tech) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader("Server", t.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		t.log.Debug("sip respond failed", zap.Int("status", code), zap.String("method", string(req.Method)), zap.Error(err))
	}
}

// setLocal pins an outgoing UDP request to our listening socket so peers see
// one address (and symmetric NAT/rport works).
func (t *Tech) setLocal(req *sip.Request) {
	if strings.EqualFold(req.Transport(), "udp") && t.udpAddr != nil {
		req.Laddr = sip.Addr{IP: t.udpAddr.IP, Port: t.udpAddr.Port}
	}
}

func (t *Tech) expireLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
			for _, u := range t.dir.expire() {
				t.log.Info("registration expired", zap.String("endpoint", u))
			}
		}
	}
}

func (t *Tech) addCall(key string, c *call) {
	t.callsMu.Lock()
	t.calls[key] = c
	t.callsMu.Unlock()
}

func (t *Tech) removeCall(key string) {
	t.callsMu.Lock()
	delete(t.calls, key)
	t.callsMu.Unlock()
}

// findCall matches an in-dialog request to its call: Call-ID + our tag (the To tag).
func (t *Tech) findCall(req *sip.Request) *call {
	cid := req.CallID()
	to := req.To()
	if cid == nil || to == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	t.callsMu.Lock()
	defer t.callsMu.Unlock()
	return t.calls[dialogKey(string(*cid), tag)]
}

// ActiveDialogs is the number of calls with SIP state held (leak checks).
func (t *Tech) ActiveDialogs() int {
	t.callsMu.Lock()
	defer t.callsMu.Unlock()
	return len(t.calls)
}

func dialogKey(callID, localTag string) string { return callID + "|" + localTag }
