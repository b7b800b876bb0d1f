package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// cmdCalls lets a supervisor review stored call records from the shell.
func cmdCalls(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		return usageError("usage: linkctl calls list [flags] | linkctl calls show ID [flags]")
	}
	verb := args[0]
	fs := newFlagSet("calls "+verb, stderr)
	cfgPath := fs.String("config", "", "configuration file (its store section is used)")
	db := fs.String("db", "", "SQLite file (default: the configured store, linkctl.db)")
	asJSON := fs.Bool("json", false, "print JSON")
	var f store.CallFilter
	var from, to string
	if verb == "list" {
		fs.StringVar(&from, "from", "", "from time (RFC 3339 or YYYY-MM-DD)")
		fs.StringVar(&to, "to", "", "to time, exclusive (RFC 3339 or YYYY-MM-DD)")
		fs.StringVar(&f.Platform, "platform", "", "12345 or 110")
		fs.StringVar(&f.Agent, "agent", "", "agent id or endpoint")
		fs.StringVar(&f.Ticket, "ticket", "", "ticket id (either side)")
		fs.StringVar(&f.Outcome, "outcome", "", "call outcome")
		fs.StringVar(&f.Category, "category", "", "category (大类 or 大类/小类)")
		fs.IntVar(&f.Limit, "limit", 50, "at most this many calls")
	}
	rest := args[1:]
	var id string
	if verb == "show" {
		if len(rest) == 0 || rest[0] == "" || rest[0][0] == '-' {
			return usageError("usage: linkctl calls show ID [-db FILE] [-json]")
		}
		id, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return usageError(err.Error())
	}
	var err error
	if f.From, err = parseWhen("from", from); err != nil {
		return err
	}
	if f.To, err = parseWhen("to", to); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *db != "" {
		cfg.Store.Driver, cfg.Store.Path, cfg.Store.DSN = "sqlite", *db, ""
	}
	if cfg.Store.DSN == "" {
		if _, err := os.Stat(cfg.Store.Path); err != nil {
			return fmt.Errorf("no call records at %s (run `linkctl demo` or `linkctl serve` in this folder first, or pass -db): %w", cfg.Store.Path, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.Store.TicketSystems = nil // reading only: never deliver from the CLI
	st, err := store.Open(ctx, cfg.Store, zap.NewNop())
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()

	if verb == "show" {
		rec, err := st.GetCall(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("call %q not found in %s", id, storeName(cfg.Store))
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rec)
		}
		callflow.WriteTimeline(stdout, rec)
		return nil
	}
	recs, err := st.ListCalls(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, recs)
	}
	fmt.Fprintf(stdout, "%-20s %-19s %-6s %-6s %-13s %-8s %-10s %s\n", "CALL", "STARTED", "FIRST", "OWNER", "OUTCOME", "LEGS", "TRANSFERS", "CATEGORY")
	for _, r := range recs {
		fmt.Fprintf(stdout, "%-20s %-19s %-6s %-6s %-13s %-8d %-10d %s\n", r.ID, r.Started.Local().Format("2006-01-02 15:04:05"),
			r.FirstPlatform, r.OwnerPlatform, dash(r.Outcome), len(r.Legs), len(r.Transfers), dash(r.Category))
	}
	fmt.Fprintf(stdout, "%d call(s) in %s\n", len(recs), storeName(cfg.Store))
	return nil
}

func parseWhen(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError(fmt.Sprintf("-%s %q: want RFC 3339 (2026-12-03T08:00:00+08:00) or a date (2026-12-03)", name, s))
}

func storeName(c config.StoreConfig) string {
	if c.DSN != "" {
		return "postgres"
	}
	return c.Path
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
