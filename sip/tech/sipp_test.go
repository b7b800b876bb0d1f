package tech

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"linkctl/ari/engine"
	"linkctl/config"
)

// Interoperability with a SIP stack we did not write: sipp's built-in
// scenarios against the technology on loopback. Skipped without sipp
// (Debian package sip-tester) or with -short, unless LINKCTL_REQUIRE_SIPP is
// set (as on CI): then a missing sipp fails and -short does not skip (the
// same rule as sip/sipp).

func sippPath(t *testing.T) string {
	t.Helper()
	required := os.Getenv("LINKCTL_REQUIRE_SIPP") != ""
	p, err := exec.LookPath("sipp")
	if err != nil {
		if required {
			t.Fatalf("sipp not found but LINKCTL_REQUIRE_SIPP is set: install the sip-tester package")
		}
		t.Skip("SKIP: sipp (Debian package sip-tester) is not installed; set LINKCTL_REQUIRE_SIPP=1 to make this a failure")
	}
	if testing.Short() && !required {
		t.Skip("SKIP: sipp interoperability runs without -short")
	}
	return p
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// sipp as the citizen (built-in uac: INVITE, 100, [180], 200, ACK, BYE): three
// calls to 12345, each answered by the engine, must all complete.
func TestSippUACCallsIn(t *testing.T) {
	sipp := sippPath(t)
	eng := newFakeEngine()
	tc := startTech(t, testConfig(), eng, nil)
	go func() {
		for ch := range eng.inbound {
			_ = tc.Indicate(ch, engine.IndicateRinging)
			_ = tc.Answer(ch)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, "-sn", "uac", "-s", "12345", "-m", "3", "-l", "1", "-r", "5",
		"-i", "127.0.0.1", "-p", fmt.Sprint(freeUDPPort(t)), "-timeout", "20s", "-timeout_error",
		"-nostdin", tc.UDPAddr().String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp uac: %v\n%s", err, tail(out))
	}
	waitNoDialogs(t, tc)
}

// sipp as a 110 trunk peer (built-in uas: 180, 200, waits for BYE): our
// INVITE is answered, and our hangup's BYE is accepted by sipp.
func TestSippUASCallOut(t *testing.T) {
	sipp := sippPath(t)
	port := freeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, "-sn", "uas", "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-timeout", "20s", "-timeout_error", "-nostdin")
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = cmd.CombinedOutput()
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // sipp binds its port

	cfg := testConfig()
	cfg.Trunks = []config.SIPTrunk{{Name: "to110", Platform: "110", Address: fmt.Sprintf("127.0.0.1:%d", port)}}
	tc := startTech(t, cfg, newFakeEngine(), nil)
	ch := newFakeChan("sipp")
	if err := tc.Dial(ctx, ch, "110@to110", engine.DialOptions{CallerIDNumber: "12345",
		Headers: []engine.Header{{Name: "User-to-User", Value: FormatUserToUser([]byte("GD-2026-000123"))}}}); err != nil {
		t.Fatal(err)
	}
	ch.expect(t, "ringing")
	ch.expect(t, "answered")
	if err := tc.Hangup(ch, 16); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sipp uas: %v\n%s", err, tail(out))
		}
	case <-ctx.Done():
		t.Fatal("sipp uas did not finish")
	}
	waitNoDialogs(t, tc)
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
