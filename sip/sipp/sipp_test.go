package sipp

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"linkctl/callflow"
	"linkctl/sip/sipdemo"
)

var update = flag.Bool("update", false, "rewrite the DTMF pcaps in testdata")

// The pcaps in testdata are DTMFPcap's output (bench.sh and CI use the files).
func TestDTMFPcapsUpToDate(t *testing.T) {
	for name, digits := range softkeyPcaps {
		want, err := DTMFPcap(digits, PcapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./sip/sipp -run Pcaps -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from DTMFPcap(%q): go test ./sip/sipp -run Pcaps -update", path, digits)
		}
	}
}

var softkeyPcaps = map[string]string{"dtmf_star1.pcap": "*1", "dtmf_star3.pcap": "*3", "dtmf_star4.pcap": "*4"}

// sippBinary finds sipp; without it the test skips visibly, unless CI demands it.
func sippBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("LINKCTL_REQUIRE_SIPP") != "" {
			t.Fatalf("sipp not found but LINKCTL_REQUIRE_SIPP is set: install the sip-tester package")
		}
		t.Skip("SKIP: sipp (Debian package sip-tester) is not installed; set LINKCTL_REQUIRE_SIPP=1 to make this a failure")
	}
	if testing.Short() && os.Getenv("LINKCTL_REQUIRE_SIPP") == "" {
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

// sippRun is one sipp process, killed at test end if still running.
type sippRun struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
	dir  string
	done chan error
}

func startSipp(t *testing.T, ctx context.Context, bin, name, dir string, args ...string) *sippRun {
	t.Helper()
	base := []string{"-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-timeout", "40s", "-timeout_error",
		"-recv_timeout", "30s", "-max_recv_loops", "100"}
	r := &sippRun{name: name, dir: dir, done: make(chan error, 1)}
	r.cmd = exec.CommandContext(ctx, bin, append(base, args...)...)
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.cmd.WaitDelay = 2 * time.Second
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start sipp %s: %v", name, err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
		}
	})
	return r
}

// wait waits for sipp to exit and fails with its output unless it exited 0
// (every call successful).
func (r *sippRun) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("sipp %s: %v\n%s\n%s", r.name, err, tail(r.out.String()), r.errors())
		}
	case <-time.After(within):
		_ = r.cmd.Process.Kill()
		t.Fatalf("sipp %s did not finish within %v\n%s", r.name, within, tail(r.out.String()))
	}
}

// errors returns sipp's error log files, if it wrote any.
func (r *sippRun) errors() string {
	files, _ := filepath.Glob(filepath.Join(r.dir, "*_errors.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(f), tail(string(data)))
	}
	return b.String()
}

func tail(s string) string {
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

// scenarioPath is a testdata scenario by absolute path (sipp runs in a temp dir).
func scenarioPath(t *testing.T, name string) string {
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// registerAgent registers user from port with sipp's digest authentication.
func registerAgent(t *testing.T, ctx context.Context, bin, dir, registrar, user string, port int) {
	t.Helper()
	r := startSipp(t, ctx, bin, "register "+user, dir, "-sf", scenarioPath(t, "register.xml"), "-p", fmt.Sprint(port),
		"-s", user, "-au", user, "-ap", sipdemo.Password(user), "-m", "1", registrar)
	r.wait(t, 15*time.Second)
}

// sippCall is one citizen call played by three sipp processes.
type sippCall struct {
	agent12345 string            // UAS scenario of the 12345 agent
	pcaps      map[string]string // file in sipp's directory -> testdata pcap
	holdMs     int               // how long the citizen stays on
}

// linkage is what sipp, as the 110 agent, read from its INVITE's headers.
type linkage struct{ callID, origin, agent, mode, category, emergency string }

// run registers the two agents with sipp's digest auth, starts the 110 agent
// (checks the X-Linkage-* headers), the 12345 agent and the citizen, waits for
// all three to succeed, and returns the ended call's record and the headers.
func (sc sippCall) run(t *testing.T) (callflow.CallRecord, linkage) {
	t.Helper()
	bin := sippBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	env, err := sipdemo.Start(ctx, nil, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), sipdemo.Options{NoPhones: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	registrar := env.SIP.UDPAddr().String()
	dir := t.TempDir()
	for name, src := range sc.pcaps {
		data, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	p12345, p110 := freeUDPPort(t), freeUDPPort(t)
	registerAgent(t, ctx, bin, dir, registrar, sipdemo.Agent12345, p12345)
	registerAgent(t, ctx, bin, dir, registrar, sipdemo.Agent110, p110)
	for _, u := range []string{sipdemo.Agent12345, sipdemo.Agent110} {
		contact, ok := env.SIP.Registered(u)
		if !ok {
			t.Fatalf("%s not registered after sipp's REGISTER", u)
		}
		t.Logf("%s registered at %s", u, contact)
	}

	agent110 := startSipp(t, ctx, bin, "110 agent", dir, "-sf", scenarioPath(t, "agent110_uas.xml"),
		"-p", fmt.Sprint(p110), "-mp", fmt.Sprint(freeUDPPort(t)), "-m", "1", "-trace_logs")
	agent12345 := startSipp(t, ctx, bin, "12345 agent", dir, "-sf", scenarioPath(t, sc.agent12345),
		"-p", fmt.Sprint(p12345), "-mp", fmt.Sprint(freeUDPPort(t)), "-m", "1")
	time.Sleep(300 * time.Millisecond) // the UAS processes bind their ports
	citizen := startSipp(t, ctx, bin, "citizen", dir, "-sf", scenarioPath(t, "citizen_uac.xml"),
		"-p", fmt.Sprint(freeUDPPort(t)), "-mp", fmt.Sprint(freeUDPPort(t)), "-s", "12345", "-d", fmt.Sprint(sc.holdMs), "-m", "1", registrar)
	var wg sync.WaitGroup
	for _, r := range []*sippRun{citizen, agent12345, agent110} {
		wg.Go(func() { r.wait(t, 60*time.Second) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	var rec callflow.CallRecord
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		calls := env.Controller.Calls()
		if len(calls) == 1 && calls[0].State == callflow.StateEnded.String() {
			rec = calls[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want one ended call, got %+v", calls)
		}
	}
	var timeline bytes.Buffer
	callflow.WriteTimeline(&timeline, rec)
	t.Logf("call record:\n%s", timeline.String())

	logs, _ := filepath.Glob(filepath.Join(dir, "agent110_uas_*_logs.log"))
	if len(logs) != 1 {
		t.Fatalf("110 agent's sipp log: found %v", logs)
	}
	data, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`linkage call-id=(\S+) origin=(\S+) agent=(\S+) mode=(\S+) category=(.+) emergency=(\S+)`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("110 agent's sipp log has no linkage line:\n%s", data)
	}
	t.Logf("sipp as the 110 agent received: %s", m[0])
	return rec, linkage{m[1], m[2], m[3], m[4], m[5], m[6]}
}

// One-key transfer with three sipp processes as the phones: the citizen (UAC)
// calls 12345; the 12345 agent (UAS, registered with digest) answers and presses
// *1 as RFC 2833 telephone-events; the 110 agent (UAS, registered) checks the
// X-Linkage-* headers of its INVITE and answers; the citizen hangs up. The call
// record must show the DTMF softkey and the completed transfer, and the call id
// sipp read from the header must be the record's.
func TestSippOneKeyTransfer(t *testing.T) {
	rec, got := sippCall{agent12345: "agent12345_uas.xml", pcaps: map[string]string{"softkey.pcap": "dtmf_star1.pcap"}, holdMs: 8000}.run(t)
	if len(rec.Transfers) != 1 {
		t.Fatalf("%d transfers, want 1", len(rec.Transfers))
	}
	tr := rec.Transfers[0]
	if tr.Outcome != callflow.OutcomeCompleted || tr.Mode != callflow.ModeOneKey || tr.Direction != callflow.Dir12345To110 || tr.Answered == nil {
		t.Errorf("transfer %+v, want a completed one-key 12345->110", tr)
	}
	if len(rec.Softkeys) == 0 || rec.Softkeys[0].Source != callflow.SourceDTMF || rec.Softkeys[0].Key != string(callflow.KeyTransfer) {
		t.Errorf("softkeys %+v, want the transfer key pressed by DTMF", rec.Softkeys)
	}
	if rec.OwnerPlatform != callflow.Platform110 || len(rec.Legs) != 3 {
		t.Errorf("owner %s with %d legs, want 110 with 3", rec.OwnerPlatform, len(rec.Legs))
	}
	want := linkage{rec.ID, "12345", sipdemo.Agent12345, string(callflow.ModeOneKey), tr.Category, "0"}
	if got != want {
		t.Errorf("110 INVITE headers %+v, want %+v", got, want)
	}
}

// Three-way call with sipp phones: the 12345 agent presses *3, the 110 agent
// joins (three-party mixing), then the 12345 agent presses *4 and leaves; the
// citizen stays with the 110 agent until hanging up.
func TestSippThreeWayHandOver(t *testing.T) {
	rec, got := sippCall{agent12345: "agent12345_threeway_uas.xml",
		pcaps: map[string]string{"softkey.pcap": "dtmf_star3.pcap", "softkey2.pcap": "dtmf_star4.pcap"}, holdMs: 10000}.run(t)
	if len(rec.Transfers) != 1 {
		t.Fatalf("%d transfers, want 1", len(rec.Transfers))
	}
	tr := rec.Transfers[0]
	if tr.Outcome != callflow.OutcomeHandedOver || tr.Mode != callflow.ModeThreeWay || tr.Answered == nil || rec.OwnerPlatform != callflow.Platform110 {
		t.Errorf("transfer %+v owner %s, want a three-way handed over to 110", tr, rec.OwnerPlatform)
	}
	var keys []string
	for _, k := range rec.Softkeys {
		if k.Source == callflow.SourceDTMF && k.Accepted {
			keys = append(keys, k.Key)
		}
	}
	if strings.Join(keys, ",") != string(callflow.KeyThreeWay)+","+string(callflow.KeyHandOver) {
		t.Errorf("accepted DTMF softkeys %v, want three-way then hand-over", keys)
	}
	want := linkage{rec.ID, "12345", sipdemo.Agent12345, string(callflow.ModeThreeWay), tr.Category, "0"}
	if got != want {
		t.Errorf("110 INVITE headers %+v, want %+v", got, want)
	}
}
