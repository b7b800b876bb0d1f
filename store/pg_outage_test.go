package store

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// tcpProxy stands between the store and PostgreSQL on loopback so that a
// test can cut the database off (every connection dropped, new ones refused)
// and bring it back.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go p.serve()
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *tcpProxy) setDown(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = v
	if v {
		for c := range p.conns {
			c.Close()
			delete(p.conns, c)
		}
	}
}

// TestPostgresOutageReportedLoudlyCallsGoOn cuts PostgreSQL off mid-run.
func TestPostgresOutageReportedLoudlyCallsGoOn(t *testing.T) {
	dsn := os.Getenv("LINKCTL_TEST_PG_DSN")
	if dsn == "" {
		t.Skip("PostgreSQL outage test skipped: set LINKCTL_TEST_PG_DSN to run it")
	}
	cfg := pgCfg(dsn)(t)
	u, err := url.Parse(cfg.DSN)
	if err != nil || u.Host == "" {
		t.Skipf("outage test needs a URL-form DSN with host:port, got %q", dsn)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	cfg.DSN = u.String()

	core, logs := observer.New(zapcore.ErrorLevel)
	s := openStore(t, cfg, zap.New(core))
	defer s.Close()
	ctx := context.Background()
	s.SaveCall(transferredCall("C-1", 1, false))
	flush(t, s)

	proxy.setDown(true)
	for v := int64(2); v <= 5; v++ { // the call goes on while the database is gone
		if err := s.SaveCall(transferredCall("C-1", v, v == 5)); err != nil {
			t.Fatal(err)
		}
	}
	s.SaveCall(transferredCall("C-2", 1, false))
	waitFor(t, func() bool { return s.Healthy(ctx) != nil })
	waitFor(t, func() bool { return logs.FilterMessageSnippet("STORE WRITE FAILING").Len() > 0 })
	if got, err := s.GetCall(ctx, "C-2"); err != nil || got.Version != 1 {
		t.Fatalf("buffered call not readable during the outage: %v", err)
	}

	proxy.setDown(false)
	flush(t, s)
	waitFor(t, func() bool { return s.Healthy(ctx) == nil })
	got, err := s.GetCall(ctx, "C-1")
	if err != nil || got.Version != 5 || got.Ended == nil {
		t.Fatalf("after the outage: v%d %v, want v5 ended", got.Version, err)
	}
	all, err := s.ListCalls(ctx, CallFilter{})
	if err != nil || len(all) != 2 {
		t.Fatalf("after the outage: %d calls %v, want 2", len(all), err)
	}
}
