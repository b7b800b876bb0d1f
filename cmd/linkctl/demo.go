package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow/scenario"
	"linkctl/store"
)

// cmdDemo runs the linkage scenarios on the embedded switch: the controller
// drives the switch over ARI, Sim phones play the citizen and the agents, every
// call record lands in the store, and each scenario ends in PASS or FAIL.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	db := fs.String("db", "linkctl.db", "SQLite file the call records are kept in (linkctl calls list reads it)")
	sip := fs.Bool("sip", false, "run the scenarios over real SIP and RTP on loopback with test phones")
	level := fs.String("log", "warn", "log level on stderr (debug, info, warn, error)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *sip {
		return demoSIP(stdout, stderr, *db, *level)
	}
	cfg := scenario.Config()
	cfg.Store.Path = *db
	cfg.Log.Level = *level
	d, err := beginDemo(cfg)
	if err != nil {
		return err
	}
	defer d.close()
	ctx, log, st := d.ctx, d.log, d.st
	env, err := scenario.StartOpts(ctx, cfg, log, scenario.Options{Sink: st})
	if err != nil {
		return err
	}
	defer env.Close()

	fmt.Fprintf(stdout, "linkctl demo: embedded switch at %s, controller connected over ARI; records -> %s\n\n", env.Switch.URL, *db)
	results := make([]scenario.Result, 0, len(scenario.All()))
	for _, sc := range scenario.All() {
		if ctx.Err() != nil {
			break
		}
		res := scenario.Run(ctx, env, sc)
		scenario.Print(stdout, res)
		fmt.Fprintln(stdout)
		results = append(results, res)
	}
	return summarize(stdout, results, st, log)
}

// summarize prints one line per scenario and the closing count; any FAIL is an error.
func summarize(w io.Writer, results []scenario.Result, st *store.Store, log *zap.Logger) error {
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.Flush(flushCtx); err != nil {
		log.Error("store flush", zap.Error(err))
	}
	pass, fail := 0, 0
	fmt.Fprintln(w, "== summary")
	for _, r := range results {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
			fail++
		} else {
			pass++
		}
		fmt.Fprintf(w, "%-48s %s\n", r.Name, verdict)
	}
	fmt.Fprintf(w, "demo: %d passed, %d failed\n", pass, fail)
	if fail > 0 || len(results) == 0 {
		return fmt.Errorf("%d scenario(s) failed", fail)
	}
	return nil
}
