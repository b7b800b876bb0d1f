package main

import (
	"context"
	"fmt"
	"io"

	"go.uber.org/zap"

	"linkctl/ari/embedded"
	"linkctl/config"
	"linkctl/sip/tech"
)

// switchProc is the embedded switch running on its own (linkctl switch): engine,
// Sim endpoints, SIP technology and the ARI server, without a controller. A
// controller (linkctl serve with ari.embedded: false) reaches it over ARI only,
// as it reaches Asterisk, so the controller can die and restart while every call
// stays up in this process.
type switchProc struct {
	sw  *embedded.Switch
	sip *tech.Tech
}

// startSwitchProc starts the switch of cfg; withSIP adds the SIP technology.
// ctx bounds the switch's life; Close also ends it.
func startSwitchProc(ctx context.Context, cfg *config.Config, log *zap.Logger, withSIP bool) (*switchProc, error) {
	sw, err := embedded.Start(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("start embedded switch: %w", err)
	}
	p := &switchProc{sw: sw}
	if withSIP {
		t, err := tech.Attach(ctx, sw.Engine, cfg.SIP, log)
		if err != nil {
			_ = sw.Close()
			return nil, fmt.Errorf("start sip technology: %w", err)
		}
		p.sip = t
	}
	return p, nil
}

// Close stops SIP first (any call still live ends with BYE/CANCEL/503, cause 16),
// then the ARI server and engine. cmdSwitch drains the calls before it.
func (p *switchProc) Close() error {
	if p.sip != nil {
		_ = p.sip.Close()
	}
	return p.sw.Close()
}

// cmdSwitch runs `linkctl switch`: the switch alone until SIGTERM (drain the
// calls, then end them) or SIGINT (end them now).
func cmdSwitch(args []string, stdout, stderr io.Writer) error {
	ps, err := beginProc("switch", "configuration file (switch, sip, ari.username/password)",
		"Sim endpoints only, no SIP technology", args, stderr)
	if err != nil {
		return err
	}
	defer ps.close()
	cfg, log, sigs, ctx := ps.cfg, ps.log, ps.sigs, ps.ctx
	p, err := startSwitchProc(ctx, cfg, log, !ps.noSIP)
	if err != nil {
		return err
	}
	defer p.Close() //nolint:errcheck
	sipUDP := "off"
	if p.sip != nil {
		sipUDP = cfg.SIP.ListenUDP
	}
	log.Info("linkctl switch serving", zap.String("ari", p.sw.URL), zap.String("application", cfg.ARI.Application),
		zap.String("sip_udp", sipUDP), zap.Int("sim_endpoints", len(cfg.Switch.SimEndpoints)),
		zap.Duration("drain_timeout", cfg.Shutdown.DrainTimeout.D()))
	// One stable line on stdout with the bound ARI address (switch.listen may use port 0);
	// scripts and the restart test read it.
	fmt.Fprintf(stdout, "linkctl switch: ARI on %s (events %s), SIP udp %s (Ctrl-C to stop)\n", p.sw.URL, p.sw.WebsocketURL, sipUDP)
	sig := <-sigs
	mode := modeFor(sig)
	slog := log.With(zap.Stringer("signal", sig), zap.Stringer("mode", mode))
	if mode == stopDrain {
		slog.Info("linkctl switch draining: new calls refused (SIP 503), live calls go on, then end with cause 16",
			zap.Duration("drain_timeout", cfg.Shutdown.DrainTimeout.D()))
	} else {
		slog.Info("linkctl switch stopping: every call ends now with cause 16")
	}
	// The ARI server stays up through this, so a connected controller sees every hang-up.
	rep := drainSwitch(p.sw, p.sip, cfg.Shutdown, mode, sigs, slog, nil)
	slog.Info("linkctl switch calls ended; closing", zap.Int("channels_at_start", rep.AtStart), zap.Int("hung_up", rep.HungUp),
		zap.String("ended_by", rep.EndedBy), zap.Duration("took", rep.Took), zap.Int("channels_left", rep.Left))
	return nil
}
