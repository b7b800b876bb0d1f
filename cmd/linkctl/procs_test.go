package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"gopkg.in/yaml.v3"
	_ "modernc.org/sqlite" // the test reads the controller's store file as a second process would

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/sip/phone"
)

// Real-process harness: the linkctl binary built into a temp dir, `linkctl switch`
// and `linkctl serve` (ari.embedded: false) as child processes on loopback, SIP
// test phones in the test process, assertions read back through the switch's ARI
// and the controller's SQLite store.

const testARIPassword = "restart-test-secret"

// buildLinkctl builds the binary of this package into dir.
func buildLinkctl(t *testing.T, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH: cannot build the linkctl binary")
	}
	bin := filepath.Join(dir, "linkctl")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build linkctl: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago (network "tcp" or "udp").
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// writeConfig loads an example config, lets mutate adapt it to the test, and
// writes it back as YAML (the binary then reads and validates it again).
func writeConfig(t *testing.T, example, out string, mutate func(*config.Config)) {
	t.Helper()
	cfg, err := config.Load(example)
	if err != nil {
		t.Fatalf("example %s: %v", example, err)
	}
	mutate(cfg)
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(out, data); err != nil {
		t.Fatalf("generated config %s does not validate: %v", out, err)
	}
}

// proc is one linkctl child process.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	lines  chan string
	exited chan struct{}
	logf   string
}

func startProc(t *testing.T, bin, logDir, name string, args ...string) *proc {
	t.Helper()
	logf := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LINKCTL_ARI_PASSWORD="+testARIPassword)
	cmd.Stderr = f
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, lines: make(chan string, 64), exited: make(chan struct{}), logf: logf}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() || os.Getenv("LINKCTL_TEST_LOGS") != "" {
			if b, err := os.ReadFile(logf); err == nil {
				const tail = 12000
				if len(b) > tail {
					b = b[len(b)-tail:]
				}
				t.Logf("--- %s log (tail) ---\n%s", name, b)
			}
		}
	})
	return p
}

// kill sends sig and waits (bounded) for the process to exit.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitLine returns the first stdout line containing substr.
func (p *proc) waitLine(substr string, within time.Duration) string {
	p.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, substr) {
				return l
			}
		case <-p.exited:
			p.t.Fatalf("%s exited before printing %q", p.name, substr)
		case <-deadline:
			p.t.Fatalf("%s printed no %q within %s", p.name, substr, within)
		}
	}
}

// splitRig is a running `linkctl switch` and `linkctl serve` pair with their configs.
type splitRig struct {
	t                 *testing.T
	bin, dir          string
	switchCfg, ctlCfg string
	ariURL, sipAddr   string
	apiURL, dbPath    string
	sw, ctl           *proc
	starts            int
	switchStarts      int
	proxy             *tcpProxy
	http              *http.Client
}

// rigOptions vary a splitRig.
type rigOptions struct {
	// mutateCtl adapts the controller's config after the test defaults.
	mutateCtl func(*config.Config)
	// proxy puts a TCP proxy between controller and switch ARI (to cut the websocket).
	proxy bool
}

// newSplitRig starts the switch from config/examples/split-switch.yaml and the
// controller from split-controller.yaml, ports and paths moved into the test.
func newSplitRig(t *testing.T, bin string, o rigOptions) *splitRig {
	t.Helper()
	dir := t.TempDir()
	r := &splitRig{t: t, bin: bin, dir: dir, switchCfg: filepath.Join(dir, "switch.yaml"), ctlCfg: filepath.Join(dir, "controller.yaml"),
		dbPath: filepath.Join(dir, "linkctl.db"), http: &http.Client{Timeout: 5 * time.Second}}
	sipPort := freePort(t, "udp")
	r.sipAddr = fmt.Sprintf("127.0.0.1:%d", sipPort)
	writeConfig(t, "../../config/examples/split-switch.yaml", r.switchCfg, func(c *config.Config) {
		c.Switch.Listen = "127.0.0.1:0"
		c.SIP.ListenUDP = r.sipAddr
		c.SIP.ListenTCP = ""
		c.Log.Level = "debug"
	})
	r.startSwitch()
	ctlARI := r.ariURL
	if o.proxy {
		u, err := url.Parse(r.ariURL)
		if err != nil {
			t.Fatal(err)
		}
		r.proxy = startProxy(t, u.Host)
		u.Host = r.proxy.addr
		ctlARI = u.String()
	}
	apiPort := freePort(t, "tcp")
	r.apiURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	writeConfig(t, "../../config/examples/split-controller.yaml", r.ctlCfg, func(c *config.Config) {
		c.ARI.URL = ctlARI
		c.API.Listen = fmt.Sprintf("127.0.0.1:%d", apiPort)
		c.Store.Path = r.dbPath
		c.Log.Level = "debug"
		c.Controller.Groups["12345"] = config.GroupConfig{Agents: []string{"PJSIP/a12345-1001"}, Strategy: "ring-all", RingTimeout: config.Duration(10 * time.Second)}
		c.Controller.Groups["110"] = config.GroupConfig{Agents: []string{"PJSIP/a110-2001"}, Strategy: "ring-all", RingTimeout: config.Duration(10 * time.Second)}
		c.Controller.TransferRingTimeout = config.Duration(20 * time.Second)
		c.Controller.AnnouncementMax = config.Duration(500 * time.Millisecond)
		if o.mutateCtl != nil {
			o.mutateCtl(c)
		}
	})
	r.startController()
	return r
}

// startSwitch starts (or restarts) `linkctl switch`; with a proxy, the proxy
// follows it to its new ARI port.
func (r *splitRig) startSwitch() {
	r.t.Helper()
	r.switchStarts++
	r.sw = startProc(r.t, r.bin, r.dir, fmt.Sprintf("switch-%d", r.switchStarts), "switch", "-config", r.switchCfg)
	line := r.sw.waitLine("ARI on ", 20*time.Second)
	r.ariURL = strings.Fields(strings.SplitN(line, "ARI on ", 2)[1])[0]
	if r.proxy != nil {
		u, err := url.Parse(r.ariURL)
		if err != nil {
			r.t.Fatal(err)
		}
		r.proxy.retarget(u.Host)
	}
}

// startController starts `linkctl serve` and waits until /readyz says ARI is connected.
func (r *splitRig) startController() {
	r.t.Helper()
	r.starts++
	r.ctl = startProc(r.t, r.bin, r.dir, fmt.Sprintf("controller-%d", r.starts), "serve", "-config", r.ctlCfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := r.http.Get(r.apiURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-r.ctl.exited:
			r.t.Fatalf("controller exited before it was ready")
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("controller not ready within 20s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ari GETs a switch ARI resource (path below /ari) into v.
func (r *splitRig) ari(path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, r.ariURL+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth("linkctl", testARIPassword)
	res, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, res.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

// ariDo sends a bodiless ARI request to the switch (as another ARI user or an
// admin would) and fails the test unless it is answered 2xx.
func (r *splitRig) ariDo(t *testing.T, method, path string) {
	t.Helper()
	req, err := http.NewRequest(method, r.ariURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("linkctl", testARIPassword)
	res, err := r.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, body)
	}
}

type ariChannel struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

type ariBridge struct {
	ID       string   `json:"id"`
	Channels []string `json:"channels"`
}

// switchState is what the switch holds: channels and bridges.
func (r *splitRig) switchState() ([]ariChannel, []ariBridge) {
	r.t.Helper()
	var chans []ariChannel
	var bridges []ariBridge
	if err := r.ari("/channels", &chans); err != nil {
		r.t.Fatal(err)
	}
	if err := r.ari("/bridges", &bridges); err != nil {
		r.t.Fatal(err)
	}
	return chans, bridges
}

// partners returns the other channels in the bridge that holds ch (nil: in no bridge).
func (r *splitRig) partners(ch string) []string {
	_, bridges := r.switchState()
	for _, b := range bridges {
		if slices.Contains(b.Channels, ch) {
			out := slices.DeleteFunc(slices.Clone(b.Channels), func(c string) bool { return c == ch })
			slices.Sort(out)
			return out
		}
	}
	return nil
}

// records reads every call record the controller's store has written to disk.
func (r *splitRig) records() []callflow.CallRecord {
	r.t.Helper()
	db, err := sql.Open("sqlite", "file:"+r.dbPath+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT doc FROM calls`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil
		}
		r.t.Fatalf("read store: %v", err)
	}
	defer rows.Close()
	var out []callflow.CallRecord
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			r.t.Fatal(err)
		}
		var rec callflow.CallRecord
		if err := json.Unmarshal([]byte(doc), &rec); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// record waits for the newest stored call record (the call in progress) to satisfy cond.
func (r *splitRig) record(what string, within time.Duration, cond func(callflow.CallRecord) bool) callflow.CallRecord {
	r.t.Helper()
	var last []callflow.CallRecord
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		last = r.records()
		if n := len(last); n > 0 {
			newest := slices.MaxFunc(last, func(a, b callflow.CallRecord) int { return a.Started.Compare(b.Started) })
			if cond(newest) {
				return newest
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	r.t.Fatalf("stored record never %s within %s; last: %s", what, within, b)
	return callflow.CallRecord{}
}

// eventually polls cond until it holds or fails the test after within.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// phones are SIP test phones registered to the switch process.
type phones struct {
	citizen, a12345, a110 *phone.Phone
	mu                    sync.Mutex
	incoming110           chan *phone.Incoming
}

func newPhones(t *testing.T, ctx context.Context, sipAddr string) *phones {
	t.Helper()
	log := zaptest.NewLogger(t)
	mk := func(user, pw string, auto bool, tone float64) *phone.Phone {
		p, err := phone.New(ctx, phone.Options{User: user, Password: pw, Registrar: sipAddr, ToneHz: tone,
			AutoAnswer: auto, Logger: log.Named(user)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	ps := &phones{
		citizen:     mk("citizen", "", false, 700),
		a12345:      mk("a12345-1001", "pw-a12345-1001", true, 1100),
		a110:        mk("a110-2001", "pw-a110-2001", false, 1500),
		incoming110: make(chan *phone.Incoming, 4),
	}
	ps.a110.OnIncoming(func(in *phone.Incoming) {
		_ = in.Ring()
		ps.incoming110 <- in
	})
	ps.register(t, ctx)
	return ps
}

// register (re-)registers the agent phones with the switch.
func (ps *phones) register(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, p := range []*phone.Phone{ps.a12345, ps.a110} {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.Register(rctx)
		cancel()
		if err != nil {
			t.Fatalf("register %s: %v", p.User(), err)
		}
	}
}

// tcpProxy forwards loopback TCP to target; cut closes every connection and,
// while blocked, new ones are closed at once (ARI unreachable).
type tcpProxy struct {
	addr, target string
	ln           net.Listener
	mu           sync.Mutex
	conns        map[net.Conn]bool
	blocked      bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut(false) })
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			c.Close()
			continue
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.DialTimeout("tcp", target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// cut closes every proxied connection; block keeps new ones out until unblock.
func (p *tcpProxy) cut(block bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = block
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// retarget sends new connections to target (a restarted switch).
func (p *tcpProxy) retarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

func (p *tcpProxy) unblock() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}
