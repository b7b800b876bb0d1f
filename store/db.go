package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver (no cgo)
)

// dialect is what differs between SQLite and PostgreSQL; the SQL itself is
// written once, with "?" placeholders and {{serial}} for the outbox key.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	switch d {
	case dialectSQLite:
		return "sqlite"
	case dialectPostgres:
		return "postgres"
	}
	return fmt.Sprintf("dialect(%d)", int(d))
}

// rebind turns "?" placeholders into "$n" for PostgreSQL. The queries of this
// package never carry a literal "?" inside a string.
func (d dialect) rebind(q string) string {
	if d != dialectPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d dialect) schema(q string) string {
	serial := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if d == dialectPostgres {
		serial = "BIGSERIAL PRIMARY KEY"
	}
	return strings.ReplaceAll(q, "{{serial}}", serial)
}

// openDB opens the configured database; the returned target is safe to log.
func openDB(ctx context.Context, driver, path, dsn string) (*sql.DB, dialect, string, error) {
	switch driver {
	case "", "sqlite":
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, 0, "", fmt.Errorf("sqlite path %q: %w", path, err)
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(5000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(ON)")
		q.Set("_txlock", "immediate")
		db, err := sql.Open("sqlite", "file:"+abs+"?"+q.Encode())
		if err != nil {
			return nil, 0, "", fmt.Errorf("open sqlite %s: %w", abs, err)
		}
		// One connection: SQLite serialises writers anyway, and per-connection
		// state (pragmas) then holds for every statement.
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, 0, "", fmt.Errorf("open sqlite %s: %w", abs, err)
		}
		return db, dialectSQLite, "sqlite:" + abs, nil
	case "postgres":
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, 0, "", fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(8)
		db.SetConnMaxIdleTime(5 * time.Minute)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, 0, "", fmt.Errorf("connect postgres %s: %w", safeDSN(dsn), err)
		}
		return db, dialectPostgres, "postgres:" + safeDSN(dsn), nil
	}
	return nil, 0, "", fmt.Errorf("unknown store driver %q (sqlite, postgres)", driver)
}

// safeDSN drops the password from a DSN so that it can be logged.
func safeDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		return u.String()
	}
	// key=value form
	fields := strings.Fields(dsn)
	for i, f := range fields {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			fields[i] = "password=***"
		}
	}
	return strings.Join(fields, " ")
}

// migration is one versioned schema step; steps are append-only.
type migration struct {
	version int
	name    string
	sql     []string
}

var migrations = []migration{
	{1, "calls, pushes, outbox", []string{
		`CREATE TABLE calls (
			id             TEXT PRIMARY KEY,
			version        BIGINT NOT NULL,
			started_ms     BIGINT NOT NULL,
			ended_ms       BIGINT,
			first_platform TEXT NOT NULL,
			owner_platform TEXT NOT NULL,
			ticket_12345   TEXT NOT NULL DEFAULT '',
			ticket_110     TEXT NOT NULL DEFAULT '',
			category       TEXT NOT NULL DEFAULT '',
			outcome        TEXT NOT NULL DEFAULT '',
			agents         TEXT NOT NULL DEFAULT '',
			platforms      TEXT NOT NULL DEFAULT '',
			restricted     INTEGER NOT NULL DEFAULT 0,
			doc            TEXT NOT NULL,
			updated_ms     BIGINT NOT NULL
		)`,
		`CREATE INDEX calls_started ON calls (started_ms)`,
		`CREATE INDEX calls_ticket_12345 ON calls (ticket_12345)`,
		`CREATE INDEX calls_ticket_110 ON calls (ticket_110)`,
		`CREATE INDEX calls_category ON calls (category)`,
		`CREATE TABLE pushes (
			id           TEXT PRIMARY KEY,
			direction    TEXT NOT NULL,
			category     TEXT NOT NULL,
			status       TEXT NOT NULL,
			ticket_12345 TEXT NOT NULL DEFAULT '',
			ticket_110   TEXT NOT NULL DEFAULT '',
			restricted   INTEGER NOT NULL DEFAULT 0,
			version      BIGINT NOT NULL,
			created_ms   BIGINT NOT NULL,
			updated_ms   BIGINT NOT NULL,
			doc          TEXT NOT NULL
		)`,
		`CREATE INDEX pushes_created ON pushes (created_ms)`,
		`CREATE TABLE outbox (
			seq          {{serial}},
			system       TEXT NOT NULL,
			platform     TEXT NOT NULL,
			kind         TEXT NOT NULL,
			item_id      TEXT NOT NULL,
			event        TEXT NOT NULL,
			idem_key     TEXT NOT NULL,
			body         TEXT NOT NULL,
			state        TEXT NOT NULL,
			attempts     INTEGER NOT NULL DEFAULT 0,
			next_ms      BIGINT NOT NULL,
			last_status  INTEGER NOT NULL DEFAULT 0,
			last_error   TEXT NOT NULL DEFAULT '',
			created_ms   BIGINT NOT NULL,
			done_ms      BIGINT,
			UNIQUE (system, idem_key)
		)`,
		`CREATE INDEX outbox_due ON outbox (system, state, next_ms)`,
		`CREATE INDEX outbox_item ON outbox (kind, item_id)`,
	}},
}

// migrate applies every migration newer than the database, each in its own
// transaction, recording it in schema_migrations.
func migrate(ctx context.Context, db *sql.DB, d dialect) ([]int, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_ms BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []int
	for _, m := range migrations {
		done, err := applyMigration(ctx, db, d, m)
		if err != nil {
			return applied, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

func applyMigration(ctx context.Context, db *sql.DB, d dialect, m migration) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if d == dialectPostgres {
		// Two linkctl instances starting together must not both migrate.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(5512345110)`); err != nil {
			return false, fmt.Errorf("advisory lock: %w", err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, d.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	for _, stmt := range m.sql {
		if _, err := tx.ExecContext(ctx, d.schema(stmt)); err != nil {
			return false, fmt.Errorf("%.60s...: %w", strings.TrimSpace(stmt), err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// schemaVersion is the newest applied migration.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}
