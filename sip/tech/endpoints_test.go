package tech

import (
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
