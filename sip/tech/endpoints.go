package tech

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"linkctl/ari/engine"
	"linkctl/config"
)

// binding is a phone's current registration.
type binding struct {
	Contact   sip.Uri   // where to send INVITEs
	Source    string    // host:port the REGISTER came from
	Transport string    // "udp" / "tcp"
	Expires   time.Time // after this the endpoint is offline
}

// TrunkState is the OPTIONS health of one trunk peer.
type TrunkState int

const (
	TrunkUnknown TrunkState = iota // not probed yet
	TrunkUp
	TrunkDown
)

func (s TrunkState) String() string {
	switch s {
	case TrunkUp:
		return "up"
	case TrunkDown:
		return "down"
	default:
		return "unknown"
	}
}

// TrunkStatus is a snapshot of one trunk, for the API and logs.
type TrunkStatus struct {
	Name      string
	Platform  string
	Address   string
	State     TrunkState
	LastCheck time.Time
	LastError string
}

// directory holds the endpoints: configured accounts with their
// registrations, and the trunks with their health. Safe for concurrent use.
type directory struct {
	mu       sync.Mutex
	now      func() time.Time
	accounts map[string]config.SIPAccount
	bindings map[string]binding
	trunks   map[string]*trunkEntry
	order    []string // trunk names in config order
}

type trunkEntry struct {
	cfg    config.SIPTrunk
	status TrunkStatus
	// ips are the addresses of a trunk configured by host name (docker
	// service names, DNS), refreshed by refreshTrunkHosts.
	ips []net.IP
}

func newDirectory(cfg config.SIPConfig, now func() time.Time) *directory {
	d := &directory{
		now:      now,
		accounts: map[string]config.SIPAccount{},
		bindings: map[string]binding{},
		trunks:   map[string]*trunkEntry{},
	}
	for _, a := range cfg.Accounts {
		d.accounts[a.Username] = a
	}
	for _, t := range cfg.Trunks {
		st := TrunkUnknown
		if t.OptionsInterval == 0 {
			st = TrunkUp // not probed: assumed reachable
		}
		d.trunks[t.Name] = &trunkEntry{cfg: t, status: TrunkStatus{Name: t.Name, Platform: t.Platform, Address: t.Address, State: st}}
		d.order = append(d.order, t.Name)
	}
	return d
}

func (d *directory) account(user string) (config.SIPAccount, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.accounts[user]
	return a, ok
}

// contact returns a live registration of an account.
func (d *directory) contact(user string) (binding, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bindings[user]
	if !ok || !d.now().Before(b.Expires) {
		return binding{}, false
	}
	return b, true
}

func (d *directory) register(user string, b binding) {
	d.mu.Lock()
	d.bindings[user] = b
	d.mu.Unlock()
}

func (d *directory) unregister(user string) {
	d.mu.Lock()
	delete(d.bindings, user)
	d.mu.Unlock()
}

// expire drops registrations past their expiry and returns their users.
func (d *directory) expire() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var gone []string
	now := d.now()
	for u, b := range d.bindings {
		if !now.Before(b.Expires) {
			delete(d.bindings, u)
			gone = append(gone, u)
		}
	}
	sort.Strings(gone)
	return gone
}

func (d *directory) trunk(name string) (config.SIPTrunk, TrunkState, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.trunks[name]
	if !ok {
		return config.SIPTrunk{}, TrunkUnknown, false
	}
	return t.cfg, t.status.State, true
}

// setTrunk records a probe result and reports whether the state changed.
func (d *directory) setTrunk(name string, st TrunkState, errText string) (old TrunkState, changed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.trunks[name]
	if !ok {
		return TrunkUnknown, false
	}
	old = t.status.State
	t.status.State = st
	t.status.LastCheck = d.now()
	t.status.LastError = errText
	return old, old != st
}

func (d *directory) trunkStatuses() []TrunkStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]TrunkStatus, 0, len(d.order))
	for _, n := range d.order {
		out = append(out, d.trunks[n].status)
	}
	return out
}

// identifyTrunk finds the trunk a request came from: exact host:port; over
// TCP (ephemeral source ports) also the host alone if exactly one trunk
// lives there. UDP never falls back to the host, so phones sharing a host
// with a trunk (everything on loopback in the demo) are not mistaken for it.
func (d *directory) identifyTrunk(source, transport string) (string, bool) {
	host, port, err := net.SplitHostPort(source)
	if err != nil {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var byHost []string
	for _, n := range d.order {
		th, tp, err := net.SplitHostPort(d.trunks[n].cfg.Address)
		if err != nil || !(sameHost(th, host) || containsIP(d.trunks[n].ips, host)) {
			continue
		}
		if tp == port {
			return n, true
		}
		byHost = append(byHost, n)
	}
	if len(byHost) == 1 && strings.EqualFold(transport, "tcp") {
		return byHost[0], true
	}
	return "", false
}

func containsIP(ips []net.IP, host string) bool {
	ip := net.ParseIP(host)
	for _, x := range ips {
		if ip != nil && x.Equal(ip) {
			return true
		}
	}
	return false
}

// refreshTrunkHosts resolves trunks given by host name, so requests from
// them are identified by source address. DNS runs without the lock held.
func (d *directory) refreshTrunkHosts(ctx context.Context, resolve func(context.Context, string) ([]net.IP, error)) []error {
	d.mu.Lock()
	names := map[string]string{}
	for n, t := range d.trunks {
		if h, _, err := net.SplitHostPort(t.cfg.Address); err == nil && net.ParseIP(h) == nil {
			names[n] = h
		}
	}
	d.mu.Unlock()
	var errs []error
	for n, h := range names {
		ips, err := resolve(ctx, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("resolve trunk %s host %s: %w", n, h, err))
			continue
		}
		d.mu.Lock()
		d.trunks[n].ips = ips
		d.mu.Unlock()
	}
	return errs
}

func sameHost(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if ia != nil && ib != nil {
		return ia.Equal(ib)
	}
	return a == b
}

// endpoints lists accounts (online while registered) and trunks (online
// unless OPTIONS says down), sorted by resource.
func (d *directory) endpoints() []engine.EndpointInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	out := make([]engine.EndpointInfo, 0, len(d.accounts)+len(d.trunks))
	for u := range d.accounts {
		st := "offline"
		if b, ok := d.bindings[u]; ok && now.Before(b.Expires) {
			st = "online"
		}
		out = append(out, engine.EndpointInfo{Resource: u, State: st})
	}
	for _, n := range d.order {
		st := "online"
		switch d.trunks[n].status.State {
		case TrunkDown:
			st = "offline"
		case TrunkUnknown:
			st = "unknown"
		}
		out = append(out, engine.EndpointInfo{Resource: n, State: st})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
