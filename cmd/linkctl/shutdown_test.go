package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/sip/phone"
	"linkctl/sip/sipcause"
)

// Graceful shutdown in real processes: `linkctl serve` with the embedded switch
// owns the calls, so SIGTERM drains them and SIGINT ends them, each citizen
// getting a BYE with "Reason: Q.850;cause=16" before the process exits and each
// record closed in the store. A controller on an external switch (`linkctl
// switch`) leaves the calls up for a restarted controller.

// newEmbeddedRig starts `linkctl serve` with ari.embedded: true, the switch and
// SIP sections of split-switch.yaml and the controller of split-controller.yaml.
// It is a splitRig whose switch and controller are the same process (r.ctl).
func newEmbeddedRig(t *testing.T, bin string, sc config.ShutdownConfig) *splitRig {
	t.Helper()
	dir := t.TempDir()
	r := &splitRig{t: t, bin: bin, dir: dir, ctlCfg: filepath.Join(dir, "serve.yaml"),
		dbPath: filepath.Join(dir, "linkctl.db"), http: &http.Client{Timeout: 5 * time.Second}}
	r.sipAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	ariPort, apiPort := freePort(t, "tcp"), freePort(t, "tcp")
	r.ariURL = fmt.Sprintf("http://127.0.0.1:%d/ari", ariPort)
	r.apiURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	sw, err := config.Load("../../config/examples/split-switch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, "../../config/examples/split-controller.yaml", r.ctlCfg, func(c *config.Config) {
		c.ARI.Embedded = true
		c.Switch = sw.Switch
		c.Switch.Listen = fmt.Sprintf("127.0.0.1:%d", ariPort)
		c.SIP = sw.SIP
		c.SIP.ListenUDP = r.sipAddr
		c.SIP.ListenTCP = ""
		c.API.Listen = fmt.Sprintf("127.0.0.1:%d", apiPort)
		c.Store.Path = r.dbPath
		c.Log.Level = "debug"
		c.Controller.Groups["12345"] = config.GroupConfig{Agents: []string{"PJSIP/a12345-1001"}, Strategy: "ring-all", RingTimeout: config.Duration(10 * time.Second)}
		c.Controller.Groups["110"] = config.GroupConfig{Agents: []string{"PJSIP/a110-2001"}, Strategy: "ring-all", RingTimeout: config.Duration(10 * time.Second)}
		c.Controller.TransferRingTimeout = config.Duration(60 * time.Second)
		c.Controller.AnnouncementMax = config.Duration(500 * time.Millisecond)
		c.Shutdown = sc
	})
	r.startController()
	return r
}

// exitWithin waits for the process to exit on its own and fails the test if it does not.
func exitWithin(t *testing.T, p *proc, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-p.exited:
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("%s still running %s after the stop signal", p.name, within)
		return 0
	}
}

// assertByeCause16 checks that the far end hung call c up with a BYE carrying cause 16.
func assertByeCause16(t *testing.T, who string, c *phone.Call) {
	t.Helper()
	if c.State() != phone.StateEnded || c.EndReason() != phone.EndRemoteHangup {
		t.Fatalf("%s's call is %s (%s) after the process exited: no BYE reached it", who, c.State(), c.EndReason())
	}
	if got, want := c.ByeReason(), sipcause.ReasonHeader(sipcause.NormalClearing); got != want {
		t.Fatalf("%s's BYE Reason = %q, want %q", who, got, want)
	}
}

// assertRecordClosed reads the store after the process exited: the call is
// ended, with an end time, an outcome, every leg hung up and no transfer pending.
func assertRecordClosed(t *testing.T, r *splitRig, id string) callflow.CallRecord {
	t.Helper()
	recs := r.records()
	i := slices.IndexFunc(recs, func(c callflow.CallRecord) bool { return c.ID == id })
	if i < 0 {
		t.Fatalf("call %s not in the store", id)
	}
	rec := recs[i]
	if rec.State != callflow.StateEnded.String() || rec.Ended == nil || rec.Outcome == "" {
		t.Fatalf("stored record %s: state %s ended %v outcome %q; want ended with an outcome", id, rec.State, rec.Ended, rec.Outcome)
	}
	for _, l := range rec.Legs {
		if l.HungUp == nil {
			t.Errorf("leg %s (%s) not hung up in the stored record", l.ChannelID, l.Role)
		}
	}
	for _, tr := range rec.Transfers {
		if tr.Outcome == callflow.OutcomePending {
			t.Errorf("transfer still pending in the stored record: %+v", tr)
		}
	}
	return rec
}

func readyStatus(r *splitRig) int {
	res, err := r.http.Get(r.apiURL + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func TestServeEmbeddedShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process shutdown test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	tests := []struct {
		name  string
		first syscall.Signal
		drain time.Duration
		// midTransfer: the call is in transfer-ringing (110 phone ringing) when stopped.
		midTransfer bool
		// during the drain (SIGTERM only): "hangup" the citizen hangs up,
		// "signal" a second SIGTERM, "" nothing (the drain timeout ends the call).
		during   string
		maxAfter time.Duration // bound on signal-to-exit
	}{
		{"SIGTERM drains, then ends the call at the drain timeout", syscall.SIGTERM, 3 * time.Second, true, "", 15 * time.Second},
		{"SIGTERM drain ends early when the citizen hangs up", syscall.SIGTERM, 60 * time.Second, false, "hangup", 15 * time.Second},
		{"second SIGTERM during the drain ends the call at once", syscall.SIGTERM, 60 * time.Second, false, "signal", 15 * time.Second},
		{"SIGINT ends the call at once", syscall.SIGINT, 60 * time.Second, false, "", 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			r := newEmbeddedRig(t, bin, config.ShutdownConfig{DrainTimeout: config.Duration(tt.drain),
				HangupGrace: config.Duration(3 * time.Second), RetryAfter: config.Duration(30 * time.Second)})
			ps := newPhones(t, ctx, r.sipAddr)
			var lc *liveCall
			if tt.midTransfer {
				lc = driveToTransferRinging(t, ctx, r, ps)
			} else {
				lc = driveToTalking(t, ctx, r, ps)
			}

			_ = r.ctl.cmd.Process.Signal(tt.first)
			signalled := time.Now()
			if tt.first == syscall.SIGTERM {
				// Draining: the live call goes on, new calls are refused with 503, /readyz fails.
				eventually(t, "/readyz fails while draining", 5*time.Second, func() bool { return readyStatus(r) == http.StatusServiceUnavailable })
				late, err := phone.New(ctx, phone.Options{User: "late-citizen", Registrar: r.sipAddr, Logger: zaptest.NewLogger(t).Named("late")})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = late.Close() })
				cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
				_, err = late.Call(cctx, "12345")
				ccancel()
				var ce *phone.CallError
				if !errors.As(err, &ce) || ce.Status != 503 {
					t.Fatalf("new call during the drain: %v, want refused with 503", err)
				}
				if s := lc.citizen.State(); s != phone.StateActive {
					t.Fatalf("citizen's call is %s during the drain, want it going on", s)
				}
				select {
				case <-r.ctl.exited:
					t.Fatal("process exited during the drain while a call was up")
				default:
				}
				switch tt.during {
				case "hangup":
					hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
					err := lc.citizen.Hangup(hctx)
					hcancel()
					if err != nil {
						t.Fatalf("citizen hangup: %v", err)
					}
				case "signal":
					_ = r.ctl.cmd.Process.Signal(syscall.SIGTERM)
				}
			}
			took := exitWithin(t, r.ctl, tt.maxAfter)
			t.Logf("signal to exit: %s (drain_timeout %s)", time.Since(signalled).Round(time.Millisecond), tt.drain)
			if tt.during != "hangup" {
				// The citizen (and the 12345 agent) got the BYE before the process was gone.
				assertByeCause16(t, "citizen", lc.citizen)
				assertByeCause16(t, "12345 agent", lc.agent)
			}
			if tt.drain >= time.Minute && took > 30*time.Second {
				t.Fatalf("stop took %s: the calls were not ended before the drain timeout", took)
			}
			if tt.during == "" && tt.first == syscall.SIGTERM && time.Since(signalled) < tt.drain {
				t.Fatalf("call ended %s after SIGTERM, before the %s drain timeout", time.Since(signalled), tt.drain)
			}
			if tt.midTransfer {
				select {
				case <-lc.in110.Cancelled():
				default:
					t.Error("the 110 phone still rings after the process exited")
				}
			}
			rec := assertRecordClosed(t, r, lc.id)
			// D8: a call the switch hung up because linkctl stopped says so.
			wantCause := "linkctl shutting down (drain timeout)"
			switch {
			case tt.during == "hangup":
				wantCause = "caller hung up"
			case tt.first == syscall.SIGINT:
				wantCause = "linkctl shutting down (stopped at once)"
			case tt.during == "signal":
				wantCause = "linkctl shutting down (second stop signal)"
			}
			if rec.EndCause != wantCause {
				t.Errorf("stored end cause %q, want %q", rec.EndCause, wantCause)
			}
		})
	}
}

// TestServeExternalSwitchLeavesCallsUp: SIGTERM and SIGINT on a controller that
// drives `linkctl switch` close its websocket and store only; the citizen's call
// stays up on the switch, and a restarted controller finishes it normally.
func TestServeExternalSwitchLeavesCallsUp(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process shutdown test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := newSplitRig(t, bin, rigOptions{})
	ps := newPhones(t, ctx, r.sipAddr)
	lc := driveToTalking(t, ctx, r, ps)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		_ = r.ctl.cmd.Process.Signal(sig)
		exitWithin(t, r.ctl, 10*time.Second)
		assertCallerKeptUp(t, r, lc)
		if lc.citizen.ByeReason() != "" {
			t.Fatalf("%s on the controller sent the citizen a BYE", sig)
		}
		rec := r.record("left as it was", time.Second, func(c callflow.CallRecord) bool { return c.ID == lc.id })
		if rec.State != callflow.StateTalking.String() || rec.Ended != nil {
			t.Fatalf("%s on the controller changed the stored record to %s", sig, rec.State)
		}
		r.startController()
	}
	endAndCheckClean(t, ctx, r, lc)
}

// TestSwitchStop: `linkctl switch` owns the calls. SIGINT ends them at once;
// SIGTERM drains (new calls 503, live ones go on until shutdown.drain_timeout)
// and then ends them; either way with cause 16 while its ARI is still up, so the
// external controller closes the record.
func TestSwitchStop(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process shutdown test skipped in -short mode")
	}
	bin := buildLinkctl(t, t.TempDir())
	tests := []struct {
		name  string
		sig   syscall.Signal
		drain time.Duration
	}{
		{"SIGINT ends the calls at once", syscall.SIGINT, time.Minute},
		{"SIGTERM drains, then ends the calls", syscall.SIGTERM, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			r := newSplitRig(t, bin, rigOptions{proxy: true})
			// Restart the (still empty) switch with this test's drain timeout; the
			// controller follows it through the proxy.
			r.sw.kill(syscall.SIGKILL)
			writeConfig(t, r.switchCfg, r.switchCfg, func(c *config.Config) {
				c.Shutdown.DrainTimeout = config.Duration(tt.drain)
				c.Shutdown.HangupGrace = config.Duration(3 * time.Second)
			})
			r.startSwitch()
			eventually(t, "controller reconnected to the restarted switch", 20*time.Second, func() bool { return readyStatus(r) == http.StatusOK })
			ps := newPhones(t, ctx, r.sipAddr)
			lc := driveToTalking(t, ctx, r, ps)

			_ = r.sw.cmd.Process.Signal(tt.sig)
			signalled := time.Now()
			if tt.sig == syscall.SIGTERM {
				late, err := phone.New(ctx, phone.Options{User: "late-citizen", Registrar: r.sipAddr, Logger: zaptest.NewLogger(t).Named("late")})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = late.Close() })
				var ce *phone.CallError
				eventually(t, "new call refused with 503 during the drain", 5*time.Second, func() bool {
					cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
					defer ccancel()
					c, err := late.Call(cctx, "12345")
					if err == nil {
						t.Fatalf("new call accepted during the drain (%s)", c.ID())
					}
					return errors.As(err, &ce) && ce.Status == 503
				})
				if s := lc.citizen.State(); s != phone.StateActive {
					t.Fatalf("citizen's call is %s during the drain, want it going on", s)
				}
			}
			exitWithin(t, r.sw, 15*time.Second)
			if tt.sig == syscall.SIGTERM && time.Since(signalled) < tt.drain {
				t.Fatalf("switch exited %s after SIGTERM, before the %s drain timeout", time.Since(signalled), tt.drain)
			}
			assertByeCause16(t, "citizen", lc.citizen)
			assertByeCause16(t, "12345 agent", lc.agent)
			rec := r.record("ended by the switch's stop", 10*time.Second, func(c callflow.CallRecord) bool {
				return c.ID == lc.id && c.State == callflow.StateEnded.String()
			})
			if rec.Outcome == "" || rec.Ended == nil {
				t.Fatalf("record ended without an outcome: %+v", rec)
			}
		})
	}
}
