package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"linkctl/ari/engine"
	"linkctl/ari/sim"
)

func benchEngine(b *testing.B) (*engine.Engine, *sim.Tech, func()) {
	return benchEngineWith(b, engine.Options{})
}

func benchEngineWith(b *testing.B, opts engine.Options) (*engine.Engine, *sim.Tech, func()) {
	opts.Dialplan = []engine.DialplanEntry{{Exten: "12345", App: "linkctl", AppArgs: []string{"inbound", "12345"}}}
	e := engine.New(opts, nil)
	st := sim.New(e, nil)
	e.RegisterTech(st)
	sub := e.Subscribe("linkctl")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // drain events like a websocket would
		defer close(done)
		for {
			if _, ok := sub.Next(ctx); !ok {
				return
			}
		}
	}()
	return e, st, func() { cancel(); <-done; sub.Close() }
}

// BenchmarkCallLifecycle: one inbound call answered, bridged, hung up, bridge deleted.
func BenchmarkCallLifecycle(b *testing.B) {
	e, st, stop := benchEngine(b)
	defer stop()
	p := st.Phone("citizen")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := p.Call(ctx, "12345")
		if err != nil {
			b.Fatal(err)
		}
		id := c.ChannelID()
		bid := fmt.Sprintf("b-%d", i)
		if err := e.Answer(id); err != nil {
			b.Fatal(err)
		}
		if _, err := e.CreateBridge(bid, "mixing", ""); err != nil {
			b.Fatal(err)
		}
		if err := e.AddChannels(bid, []string{id}); err != nil {
			b.Fatal(err)
		}
		if err := e.Hangup(id, 16); err != nil {
			b.Fatal(err)
		}
		if err := e.DeleteBridge(bid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTick1000Calls: the media clock's cost per 20 ms tick with 1,000 bridged
// channels (500 bridges) that have no MediaPort: it must be close to nothing.
func BenchmarkTick1000Calls(b *testing.B) {
	e, st, stop := benchEngine(b)
	defer stop()
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make([]string, 1000)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := st.Phone(fmt.Sprintf("p%d", i)).Call(ctx, "12345")
			if err != nil {
				b.Error(err)
				return
			}
			ids[i] = c.ChannelID()
			_ = e.Answer(ids[i])
		}(i)
	}
	wg.Wait()
	for i := 0; i < len(ids); i += 2 {
		bid := fmt.Sprintf("b%d", i)
		if _, err := e.CreateBridge(bid, "", ""); err != nil {
			b.Fatal(err)
		}
		if err := e.AddChannels(bid, ids[i:i+2]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Tick()
	}
}

// BenchmarkTick1000MediaCalls: one media tick for 500 two-party bridges whose
// 1,000 members all have a MediaPort (Sim tone phones): read, mix, write.
func BenchmarkTick1000MediaCalls(b *testing.B) {
	e, st, stop := benchEngine(b)
	defer stop()
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		c, err := st.Phone(fmt.Sprintf("m%d", i)).SetScript(sim.Script{ToneHz: 300 + float64(i%20)*100}).Call(ctx, "12345")
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ChannelID()
		_ = e.Answer(ids[i])
	}
	for i := 0; i < len(ids); i += 2 {
		bid := fmt.Sprintf("b%d", i)
		if _, err := e.CreateBridge(bid, "", ""); err != nil {
			b.Fatal(err)
		}
		if err := e.AddChannels(bid, ids[i:i+2]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Tick()
	}
}
