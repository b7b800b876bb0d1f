package config

import (
	"strings"
	"testing"
)

func TestControllerSectionDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.Controller.Softkeys.Transfer != "*1" || c.Controller.Softkeys.Emergency != "*9" || c.Controller.Groups["110"].Strategy != "ring-all" {
		t.Errorf("defaults: %+v", c.Controller)
	}
}

func TestControllerSectionErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name, yaml, key string
		line            int
	}{
		{"bad strategy", "controller:\n  groups:\n    \"110\":\n      agents: [Sim/a110-2001]\n      strategy: random\n      ring_timeout: 10s\n", "controller.groups.110.strategy", 5},
		{"agent not a dial string", "controller:\n  groups:\n    \"12345\":\n      agents: [a12345-1001]\n      strategy: ring-all\n      ring_timeout: 10s\n", "controller.groups.12345.agents[0]", 4},
		{"duplicate softkey", "controller:\n  softkeys:\n    transfer: \"*1\"\n    cancel: \"*1\"\n", "controller.softkeys.", 0},
		{"bad dtmf digit", "controller:\n  softkeys:\n    keep: \"*x\"\n", "controller.softkeys.keep", 3},
		{"unknown entry platform", "controller:\n  entries:\n    \"999\": \"119\"\n", "controller.entries.999", 3},
		{"dtmf category not in list", "controller:\n  dtmf_category:\n    \"12345->110\": 不存在/不存在\n", "controller.dtmf_category.12345->110", 0},
		{"short transfer timeout", "controller:\n  transfer_ring_timeout: 100ms\n", "controller.transfer_ring_timeout", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.yaml))
			ps, ok := err.(Problems)
			if !ok {
				t.Fatalf("want Problems, got %v", err)
			}
			found := false
			for _, p := range ps {
				if strings.HasPrefix(p.Key, tt.key) && (tt.line == 0 || p.Line == tt.line) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem for %s line %d in %v", tt.key, tt.line, ps)
			}
		})
	}
}
