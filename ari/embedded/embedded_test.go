package embedded_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/embedded"
	"linkctl/ari/engine"
	"linkctl/ari/sim"
	"linkctl/config"
)

// TestStartServesARIWithConfiguredSim: one call starts engine, Sim endpoints from
// config (with their behaviours) and the ARI face; Close stops it.
func TestStartServesARIWithConfiguredSim(t *testing.T) {
	cfg := config.Default()
	cfg.Switch.Listen = "127.0.0.1:0"
	cfg.Switch.SimEndpoints = []config.SimEndpoint{{Name: "busy-1", Behavior: "busy"}, {Name: "ok-1", Behavior: "answer", DTMF: "12", DTMFAfter: config.Duration(10 * time.Millisecond)}}
	sw, err := embedded.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sw.URL, "http://127.0.0.1:") || !strings.HasSuffix(sw.URL, "/ari") {
		t.Fatalf("URL %q", sw.URL)
	}
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", sw.URL+path, nil)
		req.SetBasicAuth(cfg.ARI.Username, cfg.ARI.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	st, body := get("/endpoints/Sim")
	var eps []engine.EndpointJSON
	if st != 200 || json.Unmarshal(body, &eps) != nil || len(eps) != 2 {
		t.Fatalf("endpoints %d %s", st, body)
	}

	mu := make(chan engine.Event, 64)
	sw.Engine.Observe(func(ev engine.Event) {
		select {
		case mu <- ev:
		default:
		}
	})
	sub := sw.Engine.Subscribe("linkctl")
	defer sub.Close()
	ch, err := sw.Engine.Originate(context.Background(), engine.OriginateRequest{Endpoint: "Sim/busy-1", App: "linkctl", Timeout: 5})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(3 * time.Second)
	for {
		select {
		case ev := <-mu:
			if ev.Type == "ChannelDestroyed" && ev.ChannelID == ch.ID {
				if ev.Fields["cause"] != 17 {
					t.Fatalf("busy endpoint destroyed with cause %v", ev.Fields["cause"])
				}
				goto answered
			}
		case <-deadline:
			t.Fatal("busy endpoint never ended the call")
		}
	}
answered:
	ok, err := sw.Engine.Originate(context.Background(), engine.OriginateRequest{Endpoint: "Sim/ok-1", App: "linkctl", Timeout: 5})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.After(3 * time.Second); ; {
		select {
		case ev := <-mu:
			if ev.Type == "ChannelDtmfReceived" && ev.ChannelID == ok.ID && ev.Fields["digit"] == "2" {
				goto done
			}
		case <-deadline:
			t.Fatal("scripted DTMF never arrived")
		}
	}
done:
	if c := sw.Sim.FindCall(ok.ID); c == nil || c.State() != sim.CallUp {
		t.Fatalf("answered sim call %+v", c)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := get("/channels"); st != 0 {
		t.Fatalf("server still answers after Close: %d", st)
	}
}

// TestCloseWaitsForMediaClockAndServer: once Close returned, the media clock
// goroutine (engine.Run) and the ARI server have returned, whether Close is
// called directly or by cancelling Start's context; Close is idempotent.
func TestCloseWaitsForMediaClockAndServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(cancel context.CancelFunc, sw *embedded.Switch) error
	}{
		{"close", func(_ context.CancelFunc, sw *embedded.Switch) error { return sw.Close() }},
		{"cancel-then-close", func(cancel context.CancelFunc, sw *embedded.Switch) error {
			cancel()
			return sw.Close()
		}},
		{"close-twice", func(_ context.CancelFunc, sw *embedded.Switch) error {
			if err := sw.Close(); err != nil {
				return err
			}
			return sw.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Switch.Listen = "127.0.0.1:0"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// zaptest fails the test (and the race detector complains) if
			// the switch logs after the test returned.
			sw, err := embedded.Start(ctx, cfg, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-sw.ClockStopped():
				t.Fatal("media clock stopped before Close")
			default:
			}
			if err := tc.stop(cancel, sw); err != nil {
				t.Fatalf("close: %v", err)
			}
			for what, ch := range map[string]<-chan struct{}{"media clock": sw.ClockStopped(), "ARI server": sw.ServerStopped()} {
				select {
				case <-ch:
				default:
					t.Errorf("%s still running after Close returned", what)
				}
			}
		})
	}
}
