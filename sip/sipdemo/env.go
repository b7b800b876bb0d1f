package sipdemo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"linkctl/ari/client"
	"linkctl/ari/embedded"
	"linkctl/callflow"
	"linkctl/config"
	"linkctl/sip/phone"
	"linkctl/sip/tech"
)

// The phones of the demo: SIP users, and the tone each one sends as its voice.
// The tones keep clear of the call-progress tones (450 Hz cn ringback, 480 Hz
// failure notice), of the default announcement (950/1400/1800 Hz) and of the
// MOH melody (523-880 Hz), so a phone's hearing says who it hears.
const (
	Citizen    = "citizen"
	Agent12345 = "a12345-1001"
	Agent110   = "a110-2001"
	Emergency  = "a110-2009"

	ToneCitizen    = 1100.0
	Tone12345      = 1300.0
	Tone110        = 1600.0
	ToneEmergency  = 2000.0
	ToneRingbackCN = 450.0
	ToneFailure    = 480.0

	demoTicket  = "GD-2026-000123"
	readyWithin = 5 * time.Second
)

// listen are the frequencies the demo phones watch.
var listen = []float64{ToneRingbackCN, ToneFailure, ToneCitizen, Tone12345, Tone110, ToneEmergency}

// Password is the digest password of a demo account (the demo binds loopback only).
func Password(user string) string { return "demo-" + user }

// Config is the configuration the SIP scenarios run with: switch, ARI and SIP on
// free loopback ports, the three agent phones as digest accounts, agent groups
// dialling them over PJSIP, and short timeouts so the demo runs in about a minute.
func Config() *config.Config {
	cfg := config.Default()
	cfg.Switch.Listen = "127.0.0.1:0"
	cfg.Switch.SimEndpoints = nil
	cfg.SIP.ListenUDP = "127.0.0.1:0"
	cfg.SIP.ListenTCP = ""
	cfg.SIP.ExternalMediaIP = "127.0.0.1"
	cfg.SIP.AllowAnonymous = true // the citizen calls without registering
	cfg.SIP.Accounts = []config.SIPAccount{
		{Username: Agent12345, Password: Password(Agent12345), Platform: "12345", AgentID: Agent12345},
		{Username: Agent110, Password: Password(Agent110), Platform: "110", AgentID: Agent110},
		{Username: Emergency, Password: Password(Emergency), Platform: "110", AgentID: Emergency},
	}
	cc := &cfg.Controller
	cc.Groups = map[string]config.GroupConfig{
		"12345": {Agents: []string{"PJSIP/" + Agent12345}, Strategy: "ring-all", RingTimeout: config.Duration(5 * time.Second)},
		"110":   {Agents: []string{"PJSIP/" + Agent110}, Strategy: "ring-all", RingTimeout: config.Duration(5 * time.Second)},
	}
	cc.Emergency = config.EmergencyConfig{Agents: []string{"PJSIP/" + Emergency}, RingTimeout: config.Duration(5 * time.Second)}
	cc.TransferRingTimeout = config.Duration(4 * time.Second)
	cc.AnnouncementMax = config.Duration(1500 * time.Millisecond)
	return cfg
}

// Options are the optional parts of an Env.
type Options struct {
	// Sink receives every call record version (the demo keeps them in the store).
	Sink callflow.RecordSink
	// NoPhones starts no test phones: outside user agents (sipp, softphones)
	// register the accounts and place the calls.
	NoPhones bool
}

// Env is a running switch + SIP technology + ARI adapter + controller, and the
// registered demo phones.
type Env struct {
	Switch     *embedded.Switch
	SIP        *tech.Tech
	PBX        *client.Client
	Controller *callflow.Controller
	Config     *config.Config
	Log        *zap.Logger

	Citizen *phone.Phone
	agents  map[string]*Agent

	cancel  context.CancelFunc
	done    chan struct{} // closed when the controller's Run returned
	pbxDone chan struct{} // closed when the ARI client's Run returned
	once    sync.Once
}

// Start brings up an Env (cfg nil means Config()) and registers the agent phones.
func Start(ctx context.Context, cfg *config.Config, log *zap.Logger, o Options) (env *Env, err error) {
	if cfg == nil {
		cfg = Config()
	}
	if log == nil {
		log = zap.NewNop()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sip demo config: %w", err)
	}
	if cfg.Controller.DTMFCategory == nil {
		cfg.Controller.DTMFCategory = map[string]string{string(callflow.Dir12345To110): cfg.Matters.Names(string(callflow.Dir12345To110))[0]}
	}
	rctx, cancel := context.WithCancel(ctx)
	env = &Env{Config: cfg, Log: log, agents: map[string]*Agent{}, cancel: cancel, done: make(chan struct{}), pbxDone: make(chan struct{})}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	if env.Switch, err = embedded.Start(rctx, cfg, log); err != nil {
		return env, fmt.Errorf("start embedded switch: %w", err)
	}
	if env.SIP, err = tech.Attach(rctx, env.Switch.Engine, cfg.SIP, log.Named("sip")); err != nil {
		return env, fmt.Errorf("start sip technology: %w", err)
	}
	if env.PBX, err = client.New(client.Options{URL: env.Switch.URL, WebsocketURL: env.Switch.WebsocketURL,
		Username: env.Switch.Username, Password: env.Switch.Password, Application: cfg.ARI.Application,
		RequestTimeout: cfg.ARI.RequestTimeout.D(), Logger: log.Named("ari")}); err != nil {
		return env, fmt.Errorf("ari client: %w", err)
	}
	if env.Controller, err = callflow.New(env.PBX, callflow.Options{Config: cfg.Controller, Matters: cfg.Matters,
		Sink: o.Sink, Logger: log.Named("callflow")}); err != nil {
		return env, fmt.Errorf("controller: %w", err)
	}
	go func() { defer close(env.pbxDone); _ = env.PBX.Run(rctx) }()
	go func() { defer close(env.done); _ = env.Controller.Run(rctx) }()
	for deadline := time.Now().Add(readyWithin); !env.PBX.Connected(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return env, errors.New("controller did not connect to the embedded switch")
		}
	}

	if o.NoPhones {
		return env, nil
	}
	registrar := env.SIP.UDPAddr().String()
	if env.Citizen, err = phone.New(rctx, phone.Options{User: Citizen, DisplayName: "市民", Registrar: registrar,
		ToneHz: ToneCitizen, Listen: listen, Logger: log.Named("phone")}); err != nil {
		return env, fmt.Errorf("citizen phone: %w", err)
	}
	for user, tone := range map[string]float64{Agent12345: Tone12345, Agent110: Tone110, Emergency: ToneEmergency} {
		a, err := newAgent(rctx, user, registrar, tone, log.Named("phone"))
		if err != nil {
			return env, err
		}
		env.agents[user] = a
		regCtx, regCancel := context.WithTimeout(rctx, 5*time.Second)
		err = a.Phone.Register(regCtx)
		regCancel()
		if err != nil {
			return env, fmt.Errorf("register %s with %s: %w", user, registrar, err)
		}
	}
	return env, nil
}

// Agent returns a demo agent phone (Agent12345, Agent110, Emergency).
func (e *Env) Agent(user string) *Agent { return e.agents[user] }

// Close hangs up and stops the phones, the controller, the SIP technology and
// the switch. It is idempotent and bounded in time.
func (e *Env) Close() {
	e.once.Do(func() {
		if e.Citizen != nil {
			_ = e.Citizen.Close()
		}
		for _, a := range e.agents {
			_ = a.Phone.Close()
		}
		e.cancel()
		// Wait (bounded) for the goroutines Start began, so none of them
		// logs after the caller (a test) returned.
		wait := time.NewTimer(3 * time.Second)
		defer wait.Stop()
		if e.Controller != nil {
		waitRuns:
			for _, ch := range []chan struct{}{e.done, e.pbxDone} {
				select {
				case <-ch:
				case <-wait.C:
					e.Log.Warn("sip demo: controller or ARI client still running after 3s")
					break waitRuns
				}
			}
		}
		if e.SIP != nil {
			_ = e.SIP.Close()
		}
		if e.Switch != nil {
			_ = e.Switch.Close()
		}
	})
}

// Behavior is what an agent phone does with a call offered to it.
type Behavior int

const (
	Answer   Behavior = iota // ring, then answer after 200 ms
	RingOnly                 // ring and never answer (until cancelled)
	Manual                   // ring and hand the offer to the scenario
)

func (b Behavior) String() string {
	switch b {
	case Answer:
		return "answer"
	case RingOnly:
		return "ring-only"
	case Manual:
		return "manual"
	}
	return "Behavior(" + strconv.Itoa(int(b)) + ")"
}

// Agent is a registered agent phone with a scripted behaviour.
type Agent struct {
	Phone *phone.Phone
	log   *zap.Logger

	mu       sync.Mutex
	behavior Behavior
	offers   chan *phone.Incoming // Manual offers
	invites  [][]phone.Header     // headers of every INVITE offered, oldest first
	calls    []*phone.Call        // answered calls, oldest first
}

func newAgent(ctx context.Context, user, registrar string, tone float64, log *zap.Logger) (*Agent, error) {
	p, err := phone.New(ctx, phone.Options{User: user, Password: Password(user), Registrar: registrar,
		ToneHz: tone, Listen: listen, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("agent phone %s: %w", user, err)
	}
	a := &Agent{Phone: p, log: log.With(zap.String("agent", user)), offers: make(chan *phone.Incoming, 4)}
	p.OnIncoming(a.offered)
	return a, nil
}

// Set changes the phone's behaviour and forgets earlier calls and offers.
func (a *Agent) Set(b Behavior) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.behavior = b
	a.invites, a.calls = nil, nil
	for {
		select {
		case <-a.offers:
		default:
			return
		}
	}
}

func (a *Agent) offered(in *phone.Incoming) {
	a.mu.Lock()
	b := a.behavior
	a.invites = append(a.invites, in.Headers())
	a.mu.Unlock()
	if err := in.Ring(); err != nil {
		a.log.Debug("ring failed", zap.Error(err))
		return
	}
	switch b {
	case Manual:
		a.offers <- in
	case RingOnly:
		<-in.Cancelled()
	default:
		select {
		case <-time.After(200 * time.Millisecond):
		case <-in.Cancelled():
			return
		}
		if _, err := a.answer(in); err != nil {
			a.log.Debug("answer failed", zap.Error(err))
		}
	}
}

func (a *Agent) answer(in *phone.Incoming) (*phone.Call, error) {
	c, err := in.Answer()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.calls = append(a.calls, c)
	a.mu.Unlock()
	return c, nil
}

// Invites returns the headers of every INVITE the phone was offered since Set.
func (a *Agent) Invites() [][]phone.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]phone.Header(nil), a.invites...)
}

// LastCall returns the newest answered call, or nil.
func (a *Agent) LastCall() *phone.Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.calls) == 0 {
		return nil
	}
	return a.calls[len(a.calls)-1]
}
