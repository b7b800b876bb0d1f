package tech

import (
	"context"
	"net"
	"testing"
	"time"

	"linkctl/config"
)

func TestIdentifyTrunk(t *testing.T) {
	cfg := config.SIPConfig{Trunks: []config.SIPTrunk{
		{Name: "to110", Address: "127.0.0.1:5090"},
		{Name: "gw", Address: "10.0.0.7:5060"},
		{Name: "gw2", Address: "10.0.0.8:5060"},
		{Name: "gw2b", Address: "10.0.0.8:5062"},
	}}
	d := newDirectory(cfg, time.Now)
	tests := []struct {
		source, transport, want string
		ok                      bool
	}{
		{"127.0.0.1:5090", "UDP", "to110", true},
		{"127.0.0.1:5071", "UDP", "", false}, // a phone on the same host over UDP
		{"127.0.0.1:40123", "TCP", "to110", true},
		{"10.0.0.7:5060", "udp", "gw", true},
		{"10.0.0.8:40000", "tcp", "", false}, // two trunks on that host: ambiguous
		{"10.0.0.8:5062", "udp", "gw2b", true},
		{"[::1]:5090", "udp", "", false},
		{"garbage", "udp", "", false},
	}
	for _, tt := range tests {
		got, ok := d.identifyTrunk(tt.source, tt.transport)
		if got != tt.want || ok != tt.ok {
			t.Errorf("identifyTrunk(%s, %s) = %q %v, want %q %v", tt.source, tt.transport, got, ok, tt.want, tt.ok)
		}
	}
}

// A trunk configured by host name (a docker service) is identified by the
// addresses the name resolves to.
func TestIdentifyTrunkByHostName(t *testing.T) {
	d := newDirectory(config.SIPConfig{Trunks: []config.SIPTrunk{{Name: "asterisk", Address: "pbx110.internal:5060"}}}, time.Now)
	if _, ok := d.identifyTrunk("172.18.0.5:5060", "udp"); ok {
		t.Fatal("identified before resolution")
	}
	errs := d.refreshTrunkHosts(context.Background(), func(_ context.Context, host string) ([]net.IP, error) {
		if host != "pbx110.internal" {
			t.Fatalf("resolved %q", host)
		}
		return []net.IP{net.ParseIP("172.18.0.5")}, nil
	})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if n, ok := d.identifyTrunk("172.18.0.5:5060", "udp"); !ok || n != "asterisk" {
		t.Fatalf("identifyTrunk = %q %v", n, ok)
	}
	if _, ok := d.identifyTrunk("172.18.0.6:5060", "udp"); ok {
		t.Fatal("other address identified")
	}
}
