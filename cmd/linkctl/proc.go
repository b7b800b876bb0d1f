package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"linkctl/config"
	"linkctl/store"
)

// procStart is what `serve` and `switch` share before starting their own parts:
// flags parsed, configuration loaded, logger built, stop signals caught.
// Stop signals are delivered on sigs rather than cancelling ctx: what happens
// to live calls depends on who owns the switch.
type procStart struct {
	cfg   *config.Config
	log   *zap.Logger
	noSIP bool
	sigs  chan os.Signal // SIGINT and SIGTERM
	ctx   context.Context
	// close stops signal delivery, cancels ctx and flushes the logger.
	close func()
}

// beginProc parses the common flags (-config, -no-sip) of command name and
// sets the process up; cfgUsage and noSIPUsage are the flags' help texts.
func beginProc(name, cfgUsage, noSIPUsage string, args []string, stderr io.Writer) (*procStart, error) {
	fs := newFlagSet(name, stderr)
	cfgPath := fs.String("config", "", cfgUsage)
	noSIP := fs.Bool("no-sip", false, noSIPUsage)
	if err := fs.Parse(args); err != nil {
		return nil, usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return nil, usageError(fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0)))
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return nil, err
	}
	p := &procStart{cfg: cfg, log: log, noSIP: *noSIP, sigs: make(chan os.Signal, 2)}
	signal.Notify(p.sigs, syscall.SIGINT, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	p.ctx = ctx
	p.close = func() {
		signal.Stop(p.sigs)
		cancel()
		_ = log.Sync()
	}
	return p, nil
}

// demoRun is what both demos share: logger, a context ended by SIGINT or
// SIGTERM, and the store the records go to (cfg.Store.Path).
type demoRun struct {
	log *zap.Logger
	ctx context.Context
	st  *store.Store
	// close closes the store, stops signal delivery and flushes the logger.
	close func()
}

func beginDemo(cfg *config.Config) (*demoRun, error) {
	log, err := newLogger(cfg.Log)
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	st, err := store.Open(ctx, cfg.Store, log.Named("store"))
	if err != nil {
		stop()
		_ = log.Sync()
		return nil, fmt.Errorf("open store %s: %w", cfg.Store.Path, err)
	}
	return &demoRun{log: log, ctx: ctx, st: st, close: func() {
		_ = st.Close()
		stop()
		_ = log.Sync()
	}}, nil
}
