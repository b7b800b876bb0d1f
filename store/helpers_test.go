package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"linkctl/callflow"
	"linkctl/config"
)

// backend is one database the suite runs against.
type backend struct {
	name string
	// cfg returns a fresh, empty database configuration for one test.
	cfg func(t testing.TB) config.StoreConfig
}

// backends is SQLite always, plus PostgreSQL when LINKCTL_TEST_PG_DSN is set.
func backends(t *testing.T) []backend {
	out := []backend{{name: "sqlite", cfg: sqliteCfg}}
	if dsn := os.Getenv("LINKCTL_TEST_PG_DSN"); dsn != "" {
		out = append(out, backend{name: "postgres", cfg: pgCfg(dsn)})
	} else {
		t.Log("PostgreSQL variant skipped: set LINKCTL_TEST_PG_DSN (e.g. postgres://u:p@127.0.0.1:5432/linkctl_test) to run it")
	}
	return out
}

func baseCfg() config.StoreConfig {
	c := config.Default().Store
	c.RetryMin = config.Duration(5 * time.Millisecond)
	c.RetryMax = config.Duration(50 * time.Millisecond)
	c.Outbox.BackoffMin = config.Duration(10 * time.Millisecond)
	c.Outbox.BackoffMax = config.Duration(80 * time.Millisecond)
	c.Outbox.Poll = config.Duration(20 * time.Millisecond)
	return c
}

func sqliteCfg(t testing.TB) config.StoreConfig {
	c := baseCfg()
	c.Driver = "sqlite"
	c.Path = filepath.Join(t.TempDir(), "linkctl.db")
	return c
}

// pgCfg gives each test its own schema (search_path) and drops it afterwards.
func pgCfg(dsn string) func(t testing.TB) config.StoreConfig {
	return func(t testing.TB) config.StoreConfig {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		schema := fmt.Sprintf("t_%d", time.Now().UnixNano())
		if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		})
		c := baseCfg()
		c.Driver = "postgres"
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		c.DSN = dsn + sep + "search_path=" + schema
		return c
	}
}

func openStore(t testing.TB, cfg config.StoreConfig, log *zap.Logger) *Store {
	t.Helper()
	if log == nil {
		log = zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg, log)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func flush(t testing.TB, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC) // not today: stats tests tell days apart

func tp(t time.Time) *time.Time { return &t }

// transferredCall is a 12345-first call handed to 110 by one-key transfer.
func transferredCall(id string, version int64, ended bool) callflow.CallRecord {
	rec := callflow.CallRecord{
		ID:            id,
		FirstPlatform: callflow.Platform12345,
		OwnerPlatform: callflow.Platform110,
		CallerNumber:  "13800000001",
		Ticket12345:   "GD-" + id,
		Ticket110:     "JQ-" + id,
		Category:      "社会治安类/盗砸抢骗",
		State:         "transferred",
		Started:       t0,
		Answered:      tp(t0.Add(3 * time.Second)),
		Legs: []callflow.Leg{
			{ChannelID: id + "-c", Role: callflow.RoleCitizen, Endpoint: "PJSIP/citizen", Created: t0},
			{ChannelID: id + "-a", Role: callflow.RoleAgent12345, Endpoint: "PJSIP/a12345-1001", Agent: "a12345-1001", Created: t0},
			{ChannelID: id + "-b", Role: callflow.RoleAgent110, Endpoint: "PJSIP/a110-2001", Agent: "a110-2001", Created: t0.Add(20 * time.Second)},
		},
		Softkeys: []callflow.Softkey{{At: t0.Add(15 * time.Second), Agent: "a12345-1001", Key: "transfer", Source: "dtmf", Accepted: true}},
		Transfers: []callflow.Transfer{{
			ID: id + "-t1", Mode: callflow.ModeOneKey, Direction: callflow.Dir12345To110, Category: "社会治安类/盗砸抢骗",
			Requested: t0.Add(15 * time.Second), Answered: tp(t0.Add(21 * time.Second)), Outcome: callflow.OutcomeCompleted,
			FromAgent: "a12345-1001", ToAgent: "a110-2001", TargetLeg: id + "-b",
		}},
		InboundHeaders: map[string]string{"X-Linkage-Ticket": "GD-" + id},
		Version:        version,
	}
	if ended {
		rec.State = "ended"
		rec.Ended = tp(t0.Add(90 * time.Second))
		rec.EndCause = "normal"
		rec.Outcome = "transferred"
	}
	return rec
}
