package scenario

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// BenchmarkOneKeyTransfer reports (not asserts) the controller's figures:
//
//	LINKCTL_BENCH_CALLS=1000 go test -run '^$' -bench OneKey -benchtime 1x ./callflow/scenario
func BenchmarkOneKeyTransfer(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("LINKCTL_BENCH_CALLS")); err == nil && v > 0 {
		n = v
	}
	rate := 1000.0
	if v, err := strconv.ParseFloat(os.Getenv("LINKCTL_BENCH_RATE"), 64); err == nil && v >= 0 {
		rate = v
	}
	for range b.N {
		res, err := Bench(context.Background(), n, rate, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
		b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
		b.ReportMetric(res.TransfersPerSec, "transfers/s")
		b.ReportMetric(res.HeapPerCallBytes/1024, "KiB/call")
		b.Log(res.String())
	}
}
