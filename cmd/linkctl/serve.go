package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"linkctl/api"
	"linkctl/ari/client"
	"linkctl/ari/embedded"
	"linkctl/ari/engine"
	"linkctl/callflow"
	"linkctl/config"
	"linkctl/sip/tech"
	"linkctl/store"
)

// node is a running linkctl: optional embedded switch (+ SIP), the ARI adapter,
// the controller, the store and the HTTP API.
type node struct {
	cfg    *config.Config
	log    *zap.Logger
	sw     *embedded.Switch
	sip    *tech.Tech
	pbx    *client.Client
	ctl    *callflow.Controller
	st     *store.Store
	cancel context.CancelFunc
	done   []chan struct{}
}

// startNode wires the packages together; withSIP starts the SIP technology on
// the embedded switch.
func startNode(ctx context.Context, cfg *config.Config, log *zap.Logger, withSIP bool) (*node, error) {
	n := &node{cfg: cfg, log: log}
	ctx, n.cancel = context.WithCancel(ctx)
	ok := false
	defer func() {
		if !ok {
			n.close()
		}
	}()

	st, err := store.Open(ctx, cfg.Store, log.Named("store"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n.st = st

	ariURL, wsURL, user, pass := cfg.ARI.URL, "", cfg.ARI.Username, cfg.Password()
	if cfg.ARI.Embedded {
		sw, err := embedded.Start(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		n.sw = sw
		ariURL, wsURL, user, pass = sw.URL, sw.WebsocketURL, sw.Username, sw.Password
		if withSIP {
			t, err := tech.New(tech.Options{Config: cfg.SIP, Router: sw.Engine, Logger: log.Named("sip"),
				Media: tech.RTPMedia(cfg.SIP, log.Named("rtp"))})
			if err != nil {
				return nil, fmt.Errorf("sip: %w", err)
			}
			sw.Engine.RegisterTech(t)
			if err := t.Start(ctx); err != nil {
				return nil, fmt.Errorf("sip: %w", err)
			}
			n.sip = t
		}
	}

	client.RouteLibraryLogs(log.Named("ari-lib"))
	pbx, err := client.New(client.Options{URL: ariURL, WebsocketURL: wsURL, Username: user, Password: pass,
		Application: cfg.ARI.Application, RequestTimeout: cfg.ARI.RequestTimeout.D(), Logger: log.Named("ari")})
	if err != nil {
		return nil, err
	}
	n.pbx = pbx
	ctl, err := callflow.New(pbx, callflow.Options{Config: cfg.Controller, Matters: cfg.Matters, Sink: st, Logger: log.Named("callflow"),
		RestrictedFlags: cfg.Store.Confidentiality.RestrictedFlags})
	if err != nil {
		return nil, err
	}
	n.ctl = ctl
	n.goRun(func() { _ = pbx.Run(ctx) })
	n.goRun(func() {
		if err := ctl.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("controller stopped", zap.Error(err))
		}
	})
	ok = true
	return n, nil
}

func (n *node) goRun(f func()) {
	d := make(chan struct{})
	n.done = append(n.done, d)
	go func() { defer close(d); f() }()
}

// waitConnected waits until the ARI event stream is up.
func (n *node) waitConnected(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for !n.pbx.Connected() {
		if time.Now().After(deadline) {
			return fmt.Errorf("ARI event websocket not connected after %s (url %s)", within, n.cfg.ARI.URL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// reloadMatters re-reads the matters list and hands it to the controller.
func (n *node) reloadMatters(ctx context.Context) (*config.Matters, error) {
	m, err := config.LoadMatters(n.cfg.Controller.MattersFile)
	if err != nil {
		return nil, err
	}
	n.ctl.ReloadMatters(m)
	c := m.Count()
	n.log.Info("matters list reloaded", zap.String("source", m.Source),
		zap.Int("rows_12345_110", c["12345->110"]), zap.Int("rows_110_12345", c["110->12345"]))
	return m, nil
}

// apiOptions wires the HTTP API to the controller, the store and the health checks.
func (n *node) apiOptions() api.Options {
	o := api.Options{
		Controller:   n.ctl,
		Store:        n.st,
		Matters:      n.ctl.Matters,
		Reload:       n.reloadMatters,
		Redact:       n.st.RedactFor,
		Tokens:       n.cfg.API.Tokens,
		MaxBodyBytes: n.cfg.API.MaxBodyBytes,
		Logger:       n.log.Named("api"),
		Ready:        []api.ReadyCheck{api.ConnectedCheck("ari", n.pbx.Connected)},
	}
	if n.sw != nil {
		// A draining switch takes no new call: a balancer should stop sending them here.
		o.Ready = append(o.Ready, api.ReadyCheck{Name: "switch", Check: func(context.Context) error {
			if p := n.sw.Engine.Phase(); p != engine.PhaseServing {
				return fmt.Errorf("embedded switch %s: %w", p, api.ErrUnavailable)
			}
			return nil
		}})
	}
	if n.sip != nil {
		o.Ready = append(o.Ready, api.AnyUpCheck("trunks", func() (up, total int) {
			for _, t := range n.sip.Trunks() {
				total++
				if t.State == tech.TrunkUp {
					up++
				}
			}
			return up, total
		}))
	}
	return o
}

// close stops everything, bounded in time; the store flushes last. Live calls
// on an embedded switch should be ended by stop first (sip.Close still sends a
// BYE for any left).
func (n *node) close() {
	if n.cancel != nil {
		n.cancel()
	}
	for _, d := range n.done {
		select {
		case <-d:
		case <-time.After(3 * time.Second):
		}
	}
	if n.sip != nil {
		_ = n.sip.Close()
	}
	if n.sw != nil {
		_ = n.sw.Close()
	}
	if n.st != nil {
		if err := n.st.Close(); err != nil {
			n.log.Error("store close", zap.Error(err))
		}
	}
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	p, err := beginProc("serve", "configuration file (default: built-in, embedded switch)",
		"embedded switch without the SIP technology (Sim endpoints only)", args, stderr)
	if err != nil {
		return err
	}
	defer p.close()
	cfg, log, sigs, ctx := p.cfg, p.log, p.sigs, p.ctx

	// Bind the API before anything else starts, so a taken port stops us
	// before the switch opens its sockets, and the address announced is real.
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (config key api.listen): %w", cfg.API.Listen, err)
	}
	defer ln.Close()
	n, err := startNode(ctx, cfg, log, !p.noSIP)
	if err != nil {
		return err
	}
	defer n.close()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if _, err := n.reloadMatters(ctx); err != nil {
				log.Error("matters reload refused; keeping the current list", zap.Error(err))
			}
		}
	}()

	h := api.New(n.apiOptions())
	log.Info("linkctl serving",
		zap.Bool("embedded", cfg.ARI.Embedded), zap.String("ari", n.pbxURL()),
		zap.String("api", "http://"+ln.Addr().String()), zap.String("sip_udp", cfg.SIP.ListenUDP),
		zap.String("on_sigterm", n.stopPlan(stopDrain)), zap.String("on_sigint", n.stopPlan(stopEnd)))
	fmt.Fprintf(stdout, "linkctl: API and supervisor page on http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	apiCtx, stopAPI := context.WithCancel(ctx)
	defer stopAPI()
	apiDone := make(chan error, 1)
	go func() { apiDone <- api.ServeListener(apiCtx, ln, h) }()
	select {
	case err := <-apiDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	case sig := <-sigs:
		// The API stays up through the drain: agents may still transfer live calls.
		n.stop(sig, sigs)
	}
	stopAPI()
	if err := <-apiDone; err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("api shutdown", zap.Error(err))
	}
	return nil
}

// stopPlan says in words what a stop in mode does to live calls (logged at start and at the stop).
func (n *node) stopPlan(mode stopMode) string {
	switch {
	case n.sw == nil:
		return "controller stops; calls stay up on the external switch for a restarted controller to adopt"
	case mode == stopDrain:
		return fmt.Sprintf("embedded switch drains: new calls refused (SIP 503), live calls go on up to %s, then hung up with cause 16", n.cfg.Shutdown.DrainTimeout.D())
	default:
		return "embedded switch ends every call now with cause 16"
	}
}

// stop handles the first stop signal before close. With an external switch the
// calls are not ours to end: close just drops the websocket and flushes the
// store. With the embedded switch they die with this process, so they are
// drained (SIGTERM) or ended (SIGINT) through the engine while ARI is still up,
// and the controller closes every record before anything is shut.
func (n *node) stop(sig os.Signal, sigs <-chan os.Signal) {
	mode := modeFor(sig)
	log := n.log.With(zap.Stringer("signal", sig), zap.Stringer("mode", mode), zap.Bool("embedded", n.sw != nil))
	log.Info("linkctl stopping: "+n.stopPlan(mode), zap.Int("live_calls", n.ctl.LiveCalls()))
	if n.sw == nil {
		return
	}
	rep := drainSwitch(n.sw, n.sip, n.cfg.Shutdown, mode, sigs, log, n.ctl.Draining)
	left := waitControllerIdle(n.ctl.LiveCalls, n.cfg.Shutdown.HangupGrace.D())
	lg := log.Info
	if left > 0 || rep.Left > 0 {
		lg = log.Warn
	}
	lg("calls ended; closing ARI, SIP and the store", zap.Int("channels_at_start", rep.AtStart), zap.Int("hung_up", rep.HungUp),
		zap.String("ended_by", rep.EndedBy), zap.Duration("took", rep.Took), zap.Int("channels_left", rep.Left),
		zap.Int("controller_calls_left", left))
}

func (n *node) pbxURL() string {
	if n.sw != nil {
		return n.sw.URL
	}
	return n.cfg.ARI.URL
}
