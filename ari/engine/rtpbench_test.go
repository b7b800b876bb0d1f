package engine_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"linkctl/ari/engine"
	"linkctl/sip/media"
)

// rtpTech is a benchmark technology whose inbound channels carry real RTP
// sessions (package sip/media) on loopback, as sip/tech's channels do.
type rtpTech struct{}

func (rtpTech) Name() string                     { return "Rtp" }
func (rtpTech) Exists(string) bool               { return false }
func (rtpTech) Endpoints() []engine.EndpointInfo { return nil }
func (rtpTech) Dial(context.Context, engine.ChannelControl, string, engine.DialOptions) error {
	return nil
}
func (rtpTech) Answer(engine.ChannelControl) error                      { return nil }
func (rtpTech) Indicate(engine.ChannelControl, engine.Indication) error { return nil }
func (rtpTech) Hangup(engine.ChannelControl, int) error                 { return nil }
func (rtpTech) SendDTMF(engine.ChannelControl, string, int) error       { return nil }
func (rtpTech) TransferProgress(engine.ChannelControl, string) error    { return nil }

// rtpLeg is one switch channel with its RTP session and the phone at the far end.
type rtpLeg struct {
	id     string
	sw     *media.Session // the switch's side (the channel's MediaPort)
	phone  *media.Session // the far end, sending a tone every frame
	closer func()
}

// newRTPLegs creates n answered channels, each with a switch-side RTP session
// paired on 127.0.0.1 with a phone-side session.
func newRTPLegs(b *testing.B, e *engine.Engine, n int) []rtpLeg {
	b.Helper()
	lo := net.IPv4(127, 0, 0, 1)
	legs := make([]rtpLeg, n)
	for i := range legs {
		sw, err := media.NewSession(lo)
		if err != nil {
			b.Fatal(err)
		}
		phone, err := media.NewSession(lo)
		if err != nil {
			b.Fatal(err)
		}
		sw.SetRemote(phone.LocalAddr(), media.PCMU, 0)
		phone.SetRemote(sw.LocalAddr(), media.PCMU, 0)
		ctl, err := e.Inbound(engine.InboundCall{Tech: "Rtp", Endpoint: fmt.Sprintf("p%d", i), Exten: "12345"})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Answer(ctl.ID()); err != nil {
			b.Fatal(err)
		}
		ctl.SetMedia(sw)
		legs[i] = rtpLeg{id: ctl.ID(), sw: sw, phone: phone, closer: func() { sw.Close(); phone.Close() }}
	}
	b.Cleanup(func() {
		for _, l := range legs {
			l.closer()
		}
	})
	return legs
}

// benchRTPTick runs the media clock over bridges of size members each, every
// member a real RTP session whose phone sends a tone frame before every tick.
// It reports the tick's own duration (tick-µs) besides ns/op (phones' sends
// included) and the phones' packets received per expected packet (delivered).
func benchRTPTick(b *testing.B, bridges, size int) {
	// 0 is the default: one goroutine until ticks run long
	for _, workers := range []int{0, runtime.GOMAXPROCS(0)} {
		name := fmt.Sprintf("workers=%d", workers)
		if workers == 0 {
			name = "workers=default"
		}
		b.Run(name, func(b *testing.B) { benchRTPTickWith(b, bridges, size, workers) })
	}
}

func benchRTPTickWith(b *testing.B, bridges, size, workers int) {
	e, _, stop := benchEngineWith(b, engine.Options{MediaWorkers: workers})
	defer stop()
	e.RegisterTech(rtpTech{})
	legs := newRTPLegs(b, e, bridges*size)
	for i := 0; i < bridges; i++ {
		bid := fmt.Sprintf("rb%d", i)
		if _, err := e.CreateBridge(bid, "mixing", ""); err != nil {
			b.Fatal(err)
		}
		ids := make([]string, size)
		for j := range ids {
			ids[j] = legs[i*size+j].id
		}
		if err := e.AddChannels(bid, ids); err != nil {
			b.Fatal(err)
		}
	}
	tone, _ := media.Tone("ring", "cn")
	frame := make([]int16, engine.FrameSamples)
	before := make([]uint64, len(legs))
	for i, l := range legs {
		before[i] = l.phone.Stats().PacketsIn
	}
	var tickTotal time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	next := time.Now()
	for i := 0; i < b.N; i++ {
		tone.Next(frame)
		for _, l := range legs {
			l.phone.WriteFrame(frame)
		}
		// pace like the real clock so the phones' packets are read before the tick
		next = next.Add(media.FrameDuration)
		time.Sleep(time.Until(next))
		t0 := time.Now()
		e.Tick()
		tickTotal += time.Since(t0)
	}
	b.StopTimer()
	time.Sleep(100 * time.Millisecond)
	var got uint64
	for i, l := range legs {
		got += l.phone.Stats().PacketsIn - before[i]
	}
	b.ReportMetric(float64(tickTotal.Microseconds())/float64(b.N), "tick-µs")
	b.ReportMetric(float64(e.MediaClock().Workers), "workers")
	b.ReportMetric(float64(got)/float64(uint64(b.N)*uint64(len(legs))), "delivered")
}

// BenchmarkTickRTP500Relay: 500 two-party bridges (1,000 RTP legs) relayed.
func BenchmarkTickRTP500Relay(b *testing.B) { benchRTPTick(b, 500, 2) }

// BenchmarkTickRTP200ThreeWay: 200 three-party bridges (600 RTP legs) mixed.
func BenchmarkTickRTP200ThreeWay(b *testing.B) { benchRTPTick(b, 200, 3) }
