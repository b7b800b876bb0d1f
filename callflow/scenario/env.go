package scenario

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"linkctl/ari/client"
	"linkctl/ari/embedded"
	"linkctl/callflow"
	"linkctl/config"
)

// Endpoints used by the scenarios (Sim phones on the embedded switch).
const (
	Citizen     = "citizen-1"
	Agent12345  = "a12345-1001"
	Agent110    = "a110-2001"
	Emergency   = "a110-2009"
	simPrefix   = "Sim/"
	readyWithin = 5 * time.Second
)

// Env is a running switch + ARI adapter + controller.
type Env struct {
	Switch     *embedded.Switch
	PBX        *client.Client
	Controller *callflow.Controller
	Config     *config.Config
	Log        *zap.Logger
	sink       callflow.RecordSink
	cancel     context.CancelFunc
	done       chan struct{}
	pbxDone    chan struct{} // closed when the ARI client's Run returned
}

// Config returns the configuration the scenarios run with: the embedded switch on
// a free loopback port and short timeouts so the demo runs in seconds.
func Config() *config.Config {
	cfg := config.Default()
	cfg.Switch.Listen = "127.0.0.1:0"
	cfg.Switch.SimEndpoints = nil
	cc := &cfg.Controller
	cc.Groups = map[string]config.GroupConfig{
		"12345": {Agents: []string{simPrefix + Agent12345}, Strategy: "ring-all", RingTimeout: config.Duration(5 * time.Second)},
		"110":   {Agents: []string{simPrefix + Agent110}, Strategy: "ring-all", RingTimeout: config.Duration(5 * time.Second)},
	}
	cc.Emergency = config.EmergencyConfig{Agents: []string{simPrefix + Emergency}, RingTimeout: config.Duration(3 * time.Second)}
	cc.TransferRingTimeout = config.Duration(2 * time.Second)
	cc.AnnouncementMax = config.Duration(400 * time.Millisecond)
	return cfg
}

// Start brings up an Env. cfg nil means Config().
func Start(ctx context.Context, cfg *config.Config, log *zap.Logger) (*Env, error) {
	return StartWith(ctx, cfg, log, nil)
}

// StartWith is Start with a wrapper around the PBX the controller sees (benchmarks
// use it to time commands); wrap may be nil.
func StartWith(ctx context.Context, cfg *config.Config, log *zap.Logger, wrap func(callflow.PBX) callflow.PBX) (*Env, error) {
	return StartOpts(ctx, cfg, log, Options{Wrap: wrap})
}

// Options are the optional parts of an Env.
type Options struct {
	// Wrap wraps the PBX the controller sees (benchmarks time commands with it).
	Wrap func(callflow.PBX) callflow.PBX
	// Sink receives every call record version (the demo keeps them in the store).
	Sink callflow.RecordSink
}

// StartOpts is Start with Options.
func StartOpts(ctx context.Context, cfg *config.Config, log *zap.Logger, o Options) (*Env, error) {
	wrap := o.Wrap
	if cfg == nil {
		cfg = Config()
	}
	if log == nil {
		log = zap.NewNop()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scenario config: %w", err)
	}
	if cfg.Controller.DTMFCategory == nil {
		cfg.Controller.DTMFCategory = map[string]string{string(callflow.Dir12345To110): cfg.Matters.Names(string(callflow.Dir12345To110))[0]}
	}
	sw, err := embedded.Start(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("start embedded switch: %w", err)
	}
	for _, p := range []string{Citizen, Agent12345, Agent110, Emergency} {
		sw.Sim.Phone(p)
	}
	pbx, err := client.New(client.Options{URL: sw.URL, WebsocketURL: sw.WebsocketURL, Username: sw.Username, Password: sw.Password,
		Application: cfg.ARI.Application, RequestTimeout: cfg.ARI.RequestTimeout.D(), Logger: log.Named("ari")})
	if err != nil {
		_ = sw.Close()
		return nil, err
	}
	var seen callflow.PBX = pbx
	if wrap != nil {
		seen = wrap(pbx)
	}
	ctl, err := callflow.New(seen, callflow.Options{Config: cfg.Controller, Matters: cfg.Matters, Sink: o.Sink, Logger: log.Named("callflow")})
	if err != nil {
		_ = sw.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	env := &Env{Switch: sw, PBX: pbx, Controller: ctl, Config: cfg, Log: log, sink: o.Sink, cancel: cancel, done: make(chan struct{}), pbxDone: make(chan struct{})}
	pbxDone := env.pbxDone
	go func() { defer close(pbxDone); _ = pbx.Run(rctx) }()
	go func() { defer close(env.done); _ = ctl.Run(rctx) }()
	deadline := time.Now().Add(readyWithin)
	for !pbx.Connected() {
		if time.Now().After(deadline) {
			env.Close()
			return nil, errors.New("controller did not connect to the embedded switch")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return env, nil
}

// RestartController drops the controller and its ARI connection (the switch keeps
// every call up, as Asterisk does when linkctl dies) and starts fresh ones, which
// must find the calls again from the channels' stamps.
func (e *Env) RestartController(ctx context.Context) error {
	e.cancel()
	if !e.stopped(3 * time.Second) {
		return errors.New("old controller did not stop")
	}
	pbx, err := client.New(client.Options{URL: e.Switch.URL, WebsocketURL: e.Switch.WebsocketURL, Username: e.Switch.Username, Password: e.Switch.Password,
		Application: e.Config.ARI.Application, RequestTimeout: e.Config.ARI.RequestTimeout.D(), Logger: e.Log.Named("ari")})
	if err != nil {
		return err
	}
	ctl, err := callflow.New(pbx, callflow.Options{Config: e.Config.Controller, Matters: e.Config.Matters, Sink: e.sink, Logger: e.Log.Named("callflow")})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	e.PBX, e.Controller, e.cancel, e.done, e.pbxDone = pbx, ctl, cancel, make(chan struct{}), make(chan struct{})
	done, pbxDone := e.done, e.pbxDone
	go func() { defer close(pbxDone); _ = pbx.Run(rctx) }()
	go func() { defer close(done); _ = ctl.Run(rctx) }()
	deadline := time.Now().Add(readyWithin)
	for !pbx.Connected() {
		if time.Now().After(deadline) {
			return errors.New("restarted controller did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Close stops the controller, the adapter and the switch.
func (e *Env) Close() {
	e.cancel()
	e.stopped(3 * time.Second)
	_ = e.Switch.Close()
}

// stopped waits up to d for the controller's and the ARI client's Run to
// return (after e.cancel), so neither logs once the Env's user went on.
func (e *Env) stopped(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for _, ch := range []chan struct{}{e.done, e.pbxDone} {
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
	return true
}
