package store

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"linkctl/config"
)

// Benchmarks (reported, not pass/fail):
//
//	go test -run '^$' -bench . -benchtime 2000x ./store/
//	LINKCTL_BENCH_TABLE=1 go test -run TestBenchmarkTable -v ./store/   # prints the table
//
// With LINKCTL_TEST_PG_DSN set every figure is also taken on PostgreSQL
// (store/bench_pg.sh starts a throw-away cluster and does both).

func benchBackends() []backend {
	out := []backend{{name: "sqlite", cfg: sqliteCfg}}
	if dsn := os.Getenv("LINKCTL_TEST_PG_DSN"); dsn != "" {
		out = append(out, backend{name: "postgres", cfg: pgCfg(dsn)})
	}
	return out
}

// BenchmarkSaveCall is what a record write costs the controller: SaveCall
// hands the version to the writer and returns. A transfer writes about six
// versions (requested, ringing, answered, bridged, completed, ended).
func BenchmarkSaveCall(b *testing.B) {
	s := openStore(b, sqliteCfg(b), zap.NewNop())
	defer s.Close()
	rec := transferredCall("C-bench", 0, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec.Version = int64(i + 1)
		if err := s.SaveCall(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	flush(b, s)
}

// BenchmarkRecordsWritten is sustained durable throughput: b.N distinct
// finished-call versions (no ticket systems) until all are in the database.
func BenchmarkRecordsWritten(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) { benchRecordsWritten(b, be) })
	}
}

func benchRecordsWritten(b *testing.B, be backend) {
	cfg := be.cfg(b)
	cfg.WriteQueue = b.N + 1 // a burst far above any number of live calls
	s := openStore(b, cfg, zap.NewNop())
	defer s.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		rec := transferredCall(fmt.Sprintf("C-%d", i), 1, true)
		if err := s.SaveCall(rec); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkRecordDurableLatency is one version made durable on its own
// (SaveCall then Flush): how long after a transfer step its record is on disk.
func BenchmarkRecordDurableLatency(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) { benchRecordDurableLatency(b, be) })
	}
}

func benchRecordDurableLatency(b *testing.B, be backend) {
	s := openStore(b, be.cfg(b), zap.NewNop())
	defer s.Close()
	rec := transferredCall("C-lat", 0, false)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec.Version = int64(i + 1)
		s.SaveCall(rec)
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutboxDeliveries is delivery throughput to one ticket system on
// loopback that answers 200: b.N finished records queued, time until the last
// is marked delivered.
func BenchmarkOutboxDeliveries(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) { benchOutboxDeliveries(b, be) })
	}
}

func benchOutboxDeliveries(b *testing.B, be backend) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	cfg := be.cfg(b)
	cfg.Outbox.Batch = 128
	cfg.WriteQueue = b.N + 1
	cfg.TicketSystems = []config.TicketSystemConfig{sinkCfg("110", srv.URL, "bench-secret", 5*time.Second)}
	s := openStore(b, cfg, zap.NewNop())
	defer s.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s.SaveCall(transferredCall(fmt.Sprintf("C-%d", i), 1, true))
	}
	deadline := time.Now().Add(5 * time.Minute)
	for got.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d", got.Load(), b.N)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}

// TestBenchmarkTable runs the benchmarks once and prints the reported table.
func TestBenchmarkTable(t *testing.T) {
	if os.Getenv("LINKCTL_BENCH_TABLE") == "" {
		t.Skip("set LINKCTL_BENCH_TABLE=1 to run the store benchmarks and print their table")
	}
	type row struct{ name, value string }
	var rows []row
	sc := testing.Benchmark(BenchmarkSaveCall)
	rows = append(rows, row{"SaveCall (controller-visible cost of one record version)", fmt.Sprintf("%d ns/op, %d allocs/op", sc.NsPerOp(), sc.AllocsPerOp())})
	rows = append(rows, row{"  × 6 versions per transfer", fmt.Sprintf("%.1f µs per transfer", float64(6*sc.NsPerOp())/1000)})
	for _, be := range benchBackends() {
		bw := testing.Benchmark(func(b *testing.B) { benchRecordsWritten(b, be) })
		rows = append(rows, row{be.name + ": records written/s (sustained)", fmt.Sprintf("%.0f", bw.Extra["records/s"])})
		bl := testing.Benchmark(func(b *testing.B) { benchRecordDurableLatency(b, be) })
		rows = append(rows, row{be.name + ": one version durable (SaveCall→Flush)", time.Duration(bl.NsPerOp()).String()})
		bo := testing.Benchmark(func(b *testing.B) { benchOutboxDeliveries(b, be) })
		rows = append(rows, row{be.name + ": outbox deliveries/s (loopback sink)", fmt.Sprintf("%.0f", bo.Extra["deliveries/s"])})
	}
	var sb strings.Builder
	sb.WriteString("\n| store benchmark | result |\n|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %s |\n", r.name, r.value)
	}
	t.Log(sb.String())
	fmt.Println(sb.String())
}
