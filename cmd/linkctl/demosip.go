package main

import (
	"fmt"
	"io"

	"linkctl/sip/sipdemo"
)

// demoSIP is `linkctl demo -sip`: the linkage scenarios over real SIP and RTP on
// loopback. Test phones register to the embedded switch's SIP technology with
// digest auth and play the citizen and the agents; each sends a tone of its own,
// so the checks are about who really hears whom. Records land in the store.
func demoSIP(stdout, stderr io.Writer, db, level string) error {
	cfg := sipdemo.Config()
	cfg.Store.Path = db
	cfg.Log.Level = level
	d, err := beginDemo(cfg)
	if err != nil {
		return err
	}
	defer d.close()
	ctx, log, st := d.ctx, d.log, d.st
	env, err := sipdemo.Start(ctx, cfg, log, sipdemo.Options{Sink: st})
	if err != nil {
		return fmt.Errorf("demo -sip: %w", err)
	}
	defer env.Close()
	fmt.Fprintf(stdout, "records -> %s\n", db)
	results := sipdemo.RunAll(ctx, env, stdout)
	return summarize(stdout, results, st, log)
}
