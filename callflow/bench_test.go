package callflow

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// timedPBX notes when the first command of a one-key transfer (taking the caller out
// of the bridge) is issued for each caller.
type timedPBX struct {
	*fakePBX
	at sync.Map
}

func (p *timedPBX) RemoveFromBridge(ctx context.Context, b, ch string) error {
	p.at.LoadOrStore(ch, time.Now())
	return p.fakePBX.RemoveFromBridge(ctx, b, ch)
}

// BenchmarkControllerOneKey measures the controller alone (an in-memory PBX that
// answers at once): softkey -> first PBX command latency and heap per live call.
//
//	LINKCTL_BENCH_CALLS=1000 go test -run '^$' -bench ControllerOneKey -benchtime 1x ./callflow
func BenchmarkControllerOneKey(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("LINKCTL_BENCH_CALLS")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		f := newFakePBX()
		f.events = make(chan Event, 16*n)
		f.behave[ep1001] = fbehave{kind: "answer"}
		f.behave[ep2001] = fbehave{kind: "answer"}
		p := &timedPBX{fakePBX: f}
		cfg := testConfig()
		cfg.TransferRingTimeout = 30e9
		cfg.AnnouncementMax = 30e9
		ctl, err := New(p, Options{Config: cfg, Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ctl.Run(ctx) }()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range n {
			f.inbound(fmt.Sprintf("cit-%d", i), "12345", "139")
		}
		ids := waitTalking(b, ctl, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		cat := ctl.Matters().Names(string(Dir12345To110))[0]
		pressed := make([]time.Time, n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			if d := time.Until(start.Add(time.Duration(i) * time.Millisecond)); d > 0 {
				time.Sleep(d) // 1000 softkeys per second
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				pressed[i] = time.Now()
				if r, err := ctl.Softkey(ctx, SoftkeyRequest{CallID: ids[i], Key: KeyTransfer, Category: cat}); err != nil || !r.Accepted {
					b.Errorf("softkey: %+v %v", r, err)
				}
			}()
		}
		wg.Wait()
		var lat []time.Duration
		for i, id := range ids {
			r, _ := ctl.Call(id)
			if v, ok := p.at.Load(r.Legs[0].ChannelID); ok {
				lat = append(lat, v.(time.Time).Sub(pressed[i]))
			}
		}
		slices.Sort(lat)
		if len(lat) != n {
			b.Fatalf("%d of %d transfers issued a command", len(lat), n)
		}
		perCall := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n) / 1024
		b.ReportMetric(float64(lat[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[n*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(perCall, "KiB/call")
		b.Logf("calls=%d softkey->first command p50=%v p99=%v max=%v heap/call=%.1f KiB (controller + in-memory PBX)", n, lat[n/2], lat[n*99/100], lat[n-1], perCall)
		cancel()
		<-done
	}
}

func waitTalking(b *testing.B, ctl *Controller, n int) []string {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var ids []string
		for _, r := range ctl.Calls() {
			if r.State == StateTalking.String() {
				ids = append(ids, r.ID)
			}
		}
		if len(ids) == n {
			return ids
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("calls did not reach agents")
	return nil
}
