package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"linkctl/sip/sipdemo"
	"linkctl/store"
)

// demoSIP is `linkctl demo -sip`: the linkage scenarios over real SIP and RTP on
// loopback. Test phones register to the embedded switch's SIP technology with
// digest auth and play the citizen and the agents; each sends a tone of its own,
// so the checks are about who really hears whom. Records land in the store.
func demoSIP(stdout, stderr io.Writer, db, level string) error {
	cfg := sipdemo.Config()
	cfg.Store.Path = db
	cfg.Log.Level = level
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, cfg.Store, log.Named("store"))
	if err != nil {
		return fmt.Errorf("open store %s: %w", db, err)
	}
	defer st.Close()
	env, err := sipdemo.Start(ctx, cfg, log, sipdemo.Options{Sink: st})
	if err != nil {
		return fmt.Errorf("demo -sip: %w", err)
	}
	defer env.Close()
	fmt.Fprintf(stdout, "records -> %s\n", db)
	results := sipdemo.RunAll(ctx, env, stdout)
	return summarize(stdout, results, st, log)
}
