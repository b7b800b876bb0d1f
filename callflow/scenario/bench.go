package scenario

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/config"
)

// BenchResult is the report of one load run.
type BenchResult struct {
	Calls            int
	Completed        int
	Outcomes         map[callflow.TransferOutcome]int // every transfer's outcome
	P50, P99, Max    time.Duration                    // softkey -> first ARI command of the transfer
	TransfersPerSec  float64
	HeapPerCallBytes float64 // process heap growth per established call (switch + ARI + controller)
	SetupTook        time.Duration
	TransferTook     time.Duration
}

func (r BenchResult) String() string {
	return fmt.Sprintf("calls=%d completed=%d outcomes=%v softkey->first-ARI-command p50=%v p99=%v max=%v transfers/s=%.0f heap/call=%.1f KiB (switch+ARI+controller, one process) setup=%v transfers=%v",
		r.Calls, r.Completed, r.Outcomes, r.P50, r.P99, r.Max, r.TransfersPerSec, r.HeapPerCallBytes/1024, r.SetupTook.Round(time.Millisecond), r.TransferTook.Round(time.Millisecond))
}

// firstCommand wraps the PBX and notes when the controller issues the first command
// of a one-key transfer for a caller (taking the caller out of its bridge).
type firstCommand struct {
	callflow.PBX
	at sync.Map // caller channel id -> time.Time
}

func (f *firstCommand) RemoveFromBridge(ctx context.Context, bridgeID, channelID string) error {
	f.at.LoadOrStore(channelID, time.Now())
	return f.PBX.RemoveFromBridge(ctx, bridgeID, channelID)
}

// Bench runs n concurrent citizen calls through the embedded switch, then a one-key
// transfer on each, offered at rate transfers per second (0: all at once).
func Bench(ctx context.Context, n int, rate float64, log *zap.Logger) (BenchResult, error) {
	cfg := Config()
	cfg.Controller.TransferRingTimeout = config.Duration(30 * time.Second) // load must not turn into no-answer
	cfg.Controller.AnnouncementMax = config.Duration(2 * time.Second)
	fc := &firstCommand{}
	env, err := StartWith(ctx, cfg, log, func(p callflow.PBX) callflow.PBX { fc.PBX = p; return fc })
	if err != nil {
		return BenchResult{}, err
	}
	defer env.Close()
	for _, p := range []string{Agent12345, Agent110} {
		env.Switch.Sim.Phone(p).SetScript(sim.Script{Behavior: sim.Answer})
	}
	res := BenchResult{Calls: n}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Establish n calls, 64 at a time.
	start := time.Now()
	calls := make([]*sim.Call, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := env.Switch.Sim.Phone(Citizen).Call(ctx, "12345")
			if err != nil {
				failed.Add(1)
				return
			}
			calls[i] = c
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return res, fmt.Errorf("%d citizen calls failed", f)
	}
	ids := make([]string, n)
	byChan := map[string]int{}
	for i, c := range calls {
		byChan[c.ChannelID()] = i
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		talking := 0
		for _, r := range env.Controller.Calls() {
			if i, ok := byChan[r.Legs[0].ChannelID]; ok && r.State == callflow.StateTalking.String() {
				ids[i] = r.ID
				talking++
			}
		}
		if talking == n {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("only %d of %d calls reached an agent", talking, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.SetupTook = time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.HeapPerCallBytes = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)

	// One-key transfer on every call.
	category := env.Controller.Matters().Names(string(callflow.Dir12345To110))[0]
	pressed := make([]time.Time, n)
	start = time.Now()
	for i := range n {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pressed[i] = time.Now()
			r, err := env.Controller.Softkey(ctx, callflow.SoftkeyRequest{CallID: ids[i], Key: callflow.KeyTransfer, Category: category, Source: callflow.SourceHTTP})
			if err != nil || !r.Accepted {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	deadline = time.Now().Add(60 * time.Second)
	for {
		settled := 0
		res.Outcomes = map[callflow.TransferOutcome]int{}
		for _, id := range ids {
			if r, ok := env.Controller.Call(id); ok && len(r.Transfers) == 1 {
				res.Outcomes[r.Transfers[0].Outcome]++
				if r.Transfers[0].Outcome != callflow.OutcomePending {
					settled++
				}
			}
		}
		res.Completed = res.Outcomes[callflow.OutcomeCompleted]
		if settled == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.TransferTook = time.Since(start)
	res.TransfersPerSec = float64(res.Completed) / res.TransferTook.Seconds()
	lat := make([]time.Duration, 0, n)
	for i, c := range calls {
		if v, ok := fc.at.Load(c.ChannelID()); ok {
			lat = append(lat, v.(time.Time).Sub(pressed[i]))
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50, res.P99, res.Max = lat[len(lat)/2], lat[(len(lat)*99)/100], lat[len(lat)-1]
	}
	for _, c := range calls {
		c.Hangup()
	}
	deadline = time.Now().Add(30 * time.Second)
	for env.Controller.LiveCalls() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if f := failed.Load(); f > 0 {
		return res, fmt.Errorf("%d softkeys failed or were refused", f)
	}
	return res, nil
}

// PrintBench writes a bench report.
func PrintBench(w io.Writer, r BenchResult) { fmt.Fprintln(w, r.String()) }
