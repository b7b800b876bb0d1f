package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestMigrationsAreVersioned opens a database made by the current schema,
// adds a newer migration, and checks that the next Open applies only that one.
func TestMigrationsAreVersioned(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg(t)
			s := openStore(t, cfg, nil)
			s.SaveCall(transferredCall("C-1", 1, true))
			flush(t, s)
			s.Close()

			saved := migrations
			defer func() { migrations = saved }()
			migrations = append(append([]migration(nil), saved...), migration{
				version: len(saved) + 1, name: "test: calls.note",
				sql: []string{`ALTER TABLE calls ADD COLUMN note TEXT NOT NULL DEFAULT 'n/a'`},
			})
			s2 := openStore(t, cfg, nil)
			defer s2.Close()
			ver, err := schemaVersion(context.Background(), s2.db)
			if err != nil || ver != len(saved)+1 {
				t.Fatalf("schema version %d (%v), want %d", ver, err, len(saved)+1)
			}
			var note string
			if err := s2.db.QueryRow(s2.d.rebind(`SELECT note FROM calls WHERE id = ?`), "C-1").Scan(&note); err != nil || note != "n/a" {
				t.Fatalf("new column on old rows: %q %v", note, err)
			}
			if got, err := s2.GetCall(context.Background(), "C-1"); err != nil || got.Version != 1 {
				t.Fatalf("old record after migration: %v", err)
			}
		})
	}
}

// TestConcurrentWritersKeepNewest has many calls progressing at once, their
// versions arriving from several goroutines in any order.
func TestConcurrentWritersKeepNewest(t *testing.T) {
	s := openStore(t, sqliteCfg(t), nil)
	defer s.Close()
	const calls, versions = 40, 6
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for c := 0; c < calls; c++ {
				for v := int64(versions); v >= 1; v-- { // newest first from one goroutine, oldest first from another
					ver := v
					if g%2 == 0 {
						ver = versions + 1 - v
					}
					s.SaveCall(transferredCall(fmt.Sprintf("C-%d", c), ver, ver == versions))
				}
			}
		}(g)
	}
	wg.Wait()
	flush(t, s)
	all, err := s.ListCalls(context.Background(), CallFilter{Limit: 1000})
	if err != nil || len(all) != calls {
		t.Fatalf("%d calls (%v), want %d", len(all), err, calls)
	}
	for _, r := range all {
		if r.Version != versions || r.Ended == nil {
			t.Fatalf("%s kept v%d, want v%d", r.ID, r.Version, versions)
		}
	}
}
