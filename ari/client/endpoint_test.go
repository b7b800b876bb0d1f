package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/embedded"
	"linkctl/callflow"
	"linkctl/config"
)

// TestEndpointStateOnEmbeddedSwitch reads endpoint states over real ARI HTTP from
// the embedded switch: a Sim phone is online, marked offline it reads offline, and
// an endpoint the switch does not have is ErrNoSuchEndpoint.
func TestEndpointStateOnEmbeddedSwitch(t *testing.T) {
	cfg := config.Default()
	cfg.Switch.Listen = "127.0.0.1:0"
	cfg.Switch.SimEndpoints = nil
	ctx := context.Background()
	sw, err := embedded.Start(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	sw.Sim.Phone("to110")
	sw.Sim.Phone("a110-2001").SetOffline(true)
	c, err := New(Options{URL: sw.URL, Username: sw.Username, Password: sw.Password, Application: "linkctl", RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tech, resource string
		want           callflow.EndpointStatus
		err            error
	}{
		{"Sim", "to110", callflow.EndpointOnline, nil},
		{"Sim", "a110-2001", callflow.EndpointOffline, nil},
		{"Sim", "nobody", callflow.EndpointUnknown, callflow.ErrNoSuchEndpoint},
		{"PJSIP", "to110", callflow.EndpointUnknown, callflow.ErrNoSuchEndpoint}, // no SIP technology on this switch
	}
	for _, tt := range tests {
		got, err := c.EndpointState(ctx, tt.tech, tt.resource)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s/%s: %v %v, want %v %v", tt.tech, tt.resource, got, err, tt.want, tt.err)
		}
	}
	sw.Sim.Phone("a110-2001").SetOffline(false)
	if got, err := c.EndpointState(ctx, "Sim", "a110-2001"); got != callflow.EndpointOnline || err != nil {
		t.Errorf("back online: %v %v", got, err)
	}
}
