package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"linkctl/ari/engine"
	"linkctl/ari/server"
	"linkctl/ari/sim"
	"linkctl/config"
)

// ErrCloseTimeout reports that Close gave up waiting for the ARI server or
// the media clock to return.
var ErrCloseTimeout = errors.New("embedded switch: close timed out waiting for server and media clock")

// Switch is a running embedded switch.
type Switch struct {
	Engine *engine.Engine
	Sim    *sim.Tech
	Server *server.Server
	// URL is the ARI base URL (http://127.0.0.1:PORT/ari); WebsocketURL the events URL.
	URL, WebsocketURL string
	// Username/Password are the ARI credentials it accepts.
	Username, Password string
	cancel             context.CancelFunc
	done               chan struct{} // closed when the ARI server returned
	ran                chan struct{} // closed when the engine's media clock (Run) returned
	closeOnce          sync.Once
	closeErr           error
}

// closeWait bounds how long Close waits for the server and the media clock.
const closeWait = 3 * time.Second

// EngineOptions maps the switch configuration onto engine options.
func EngineOptions(sc config.SwitchConfig) engine.Options {
	o := engine.Options{SystemName: sc.SystemName, AsteriskID: sc.EntityID, Context: sc.Context,
		SoundsDir: sc.SoundsDir, ToneZone: sc.ToneZone}
	for _, d := range sc.Dialplan {
		o.Dialplan = append(o.Dialplan, engine.DialplanEntry{Exten: d.Exten, App: d.App, AppArgs: d.Args})
	}
	return o
}

// ConfigureSim creates the configured Sim endpoints with their scripts.
func ConfigureSim(t *sim.Tech, eps []config.SimEndpoint) error {
	for _, ep := range eps {
		b, err := sim.ParseBehavior(ep.Behavior)
		if err != nil {
			return fmt.Errorf("sim endpoint %s: %w", ep.Name, err)
		}
		t.Phone(ep.Name).SetScript(sim.Script{Behavior: b, AnswerAfter: ep.AnswerAfter.D(), DTMF: ep.DTMF,
			DTMFAfter: ep.DTMFAfter.D(), HangupAfter: ep.HangupAfter.D(), ToneHz: ep.ToneHz})
	}
	return nil
}

// Start runs engine + Sim + ARI server on cfg.Switch.Listen (use port 0 in tests).
// More technologies (SIP) register on sw.Engine with RegisterTech.
func Start(ctx context.Context, cfg *config.Config, log *zap.Logger) (*Switch, error) {
	if log == nil {
		log = zap.NewNop()
	}
	e := engine.New(EngineOptions(cfg.Switch), log.Named("switch"))
	st := sim.New(e, log.Named("sim"))
	if err := ConfigureSim(st, cfg.Switch.SimEndpoints); err != nil {
		return nil, err
	}
	e.RegisterTech(st)
	ln, err := net.Listen("tcp", cfg.Switch.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded switch: listen %s: %w", cfg.Switch.Listen, err)
	}
	srv := server.New(e, server.Config{Username: cfg.ARI.Username, Password: cfg.Password(), SystemName: cfg.Switch.SystemName}, log.Named("ari"))
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sw := &Switch{Engine: e, Sim: st, Server: srv, Username: cfg.ARI.Username, Password: cfg.Password(),
		URL: "http://" + ln.Addr().String() + "/ari", WebsocketURL: "ws://" + ln.Addr().String() + "/ari/events",
		cancel: cancel, done: make(chan struct{}), ran: make(chan struct{})}
	go func() {
		defer close(sw.ran)
		e.Run(rctx)
	}()
	go func() {
		defer close(sw.done)
		if err := srv.Serve(ln); err != nil {
			log.Error("embedded ARI server stopped", zap.Error(err))
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = sw.Close()
		case <-rctx.Done():
		}
	}()
	return sw, nil
}

// Close stops the ARI server and the media clock and waits (bounded by
// closeWait in all) for both goroutines to return, so nothing the switch
// started still runs or logs once Close returned. It is safe to call more
// than once and from several goroutines; every call waits.
func (sw *Switch) Close() error {
	sw.closeOnce.Do(func() {
		sw.cancel()
		sw.closeErr = sw.Server.Close()
	})
	deadline := time.NewTimer(closeWait)
	defer deadline.Stop()
	for _, ch := range []chan struct{}{sw.done, sw.ran} {
		select {
		case <-ch:
		case <-deadline.C:
			return errors.Join(sw.closeErr, ErrCloseTimeout)
		}
	}
	return sw.closeErr
}
