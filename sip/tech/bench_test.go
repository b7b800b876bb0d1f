package tech

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"go.uber.org/zap"
)

// BenchmarkInboundCallSetup measures complete SIP call cycles over loopback
// UDP (INVITE/100/200/ACK, then BYE/200) through the technology with an
// engine that answers at once. Run: go test -bench InboundCallSetup ./sip/tech/
func BenchmarkInboundCallSetup(b *testing.B) {
	eng := newFakeEngine()
	cfg := testConfig()
	tc, err := New(Options{Config: cfg, Router: eng, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	if err := tc.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer tc.Close()
	go func() {
		for ch := range eng.inbound {
			_ = tc.Answer(ch)
		}
	}()
	citizen := newPeer(b, "citizen")
	offer := sippOffer(6100, "0 101")
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		dlg, err := citizen.invite(ctx, tc, "12345", offer)
		if err != nil {
			b.Fatal(err)
		}
		if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := dlg.Ack(ctx); err != nil {
			b.Fatal(err)
		}
		if err := dlg.Bye(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}
