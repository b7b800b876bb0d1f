package config

import (
	"errors"
	"strings"
	"testing"
	"time"
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

func TestLinkagePeersParse(t *testing.T) {
	if n := len(Default().Controller.LinkagePeers); n != 0 {
		t.Fatalf("default trusts %d linkage peers, want none", n)
	}
	c, err := Parse("test.yaml", []byte("controller:\n  linkage_peers: [PJSIP/to110, Sim/to12345]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Controller.LinkagePeers, ","); got != "PJSIP/to110,Sim/to12345" {
		t.Fatalf("linkage_peers = %q", got)
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
		{"linkage peer not an endpoint", "controller:\n  linkage_peers:\n    - PJSIP/to110\n    - to12345\n", "controller.linkage_peers[1]", 4},
		{"linkage peer dial string", "controller:\n  linkage_peers:\n    - PJSIP/to110/sip:10.0.0.1\n", "controller.linkage_peers[0]", 3},
		{"linkage peer twice", "controller:\n  linkage_peers:\n    - PJSIP/to110\n    - pjsip/to110\n", "controller.linkage_peers[1]", 4},
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

// A group written in the file gets the per-field defaults `linkctl config default`
// shows for every field it leaves out; a field written empty is still an error.
func TestGroupOverrideGetsFieldDefaults(t *testing.T) {
	tests := []struct {
		name, yaml   string
		group        string
		strategy     string
		ring         time.Duration
		emergRing    time.Duration
		wantProblems []string // key prefixes that must be reported
	}{
		{"agents only", "controller:\n  groups:\n    \"110\": {agents: [Sim/a110-2001]}\n", "110", "ring-all", 20 * time.Second, 60 * time.Second, nil},
		{"strategy kept, timeout defaulted", "controller:\n  groups:\n    \"12345\":\n      agents: [Sim/a12345-1001]\n      strategy: round-robin\n", "12345", "round-robin", 20 * time.Second, 60 * time.Second, nil},
		{"timeout kept, strategy defaulted", "controller:\n  groups:\n    \"12345\":\n      agents: [Sim/a12345-1001]\n      ring_timeout: 7s\n", "12345", "ring-all", 7 * time.Second, 60 * time.Second, nil},
		{"emergency agents only", "controller:\n  emergency:\n    agents: [Sim/a110-2001]\n", "110", "ring-all", 20 * time.Second, 60 * time.Second, nil},
		{"explicit empty strategy refused", "controller:\n  groups:\n    \"110\":\n      agents: [Sim/a110-2001]\n      strategy: \"\"\n", "", "", 0, 0, []string{"controller.groups.110.strategy"}},
		{"explicit zero timeout refused", "controller:\n  groups:\n    \"110\":\n      agents: [Sim/a110-2001]\n      ring_timeout: 0s\n", "", "", 0, 0, []string{"controller.groups.110.ring_timeout"}},
		{"agents still required", "controller:\n  groups:\n    \"110\": {strategy: ring-all}\n", "", "", 0, 0, []string{"controller.groups.110.agents"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("test.yaml", []byte(tc.yaml))
			if tc.wantProblems != nil {
				var ps Problems
				if !errors.As(err, &ps) {
					t.Fatalf("want problems %v, got %v", tc.wantProblems, err)
				}
				for _, k := range tc.wantProblems {
					if !hasProblem(ps, k) {
						t.Errorf("no problem for %s in %v", k, ps)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			g := c.Controller.Groups[tc.group]
			if g.Strategy != tc.strategy || g.RingTimeout.D() != tc.ring {
				t.Errorf("group %s = %s/%v, want %s/%v", tc.group, g.Strategy, g.RingTimeout.D(), tc.strategy, tc.ring)
			}
			if c.Controller.Emergency.RingTimeout.D() != tc.emergRing {
				t.Errorf("emergency ring_timeout %v, want %v", c.Controller.Emergency.RingTimeout.D(), tc.emergRing)
			}
			if other := c.Controller.Groups["12345"]; tc.group == "110" && (len(other.Agents) == 0 || other.Strategy != "ring-all") {
				t.Errorf("the group not in the file lost its defaults: %+v", other)
			}
		})
	}
}

// With the embedded switch, Sim/NAME agents must be simulated endpoints; PJSIP
// agents are not checked (they register later).
func TestSimAgentsMustBeSimEndpoints(t *testing.T) {
	tests := []struct {
		name, yaml string
		key        string // "" = valid
		line       int
		msgHas     string
	}{
		{"unknown sim agent in a group",
			"controller:\n  groups:\n    \"110\":\n      agents: [Sim/a110-2001, Sim/a110-9999]\n", "controller.groups.110.agents[1]", 4, "Sim/a110-9999 is not in switch.sim_endpoints"},
		{"unknown sim agent for emergency",
			"controller:\n  emergency:\n    agents:\n      - Sim/a110-2001\n      - Sim/ghost\n", "controller.emergency.agents[1]", 5, "Sim/ghost is not in switch.sim_endpoints"},
		{"group and sim endpoints both written",
			"switch:\n  sim_endpoints:\n    - {name: citizen-1}\n    - {name: a12345-1001}\ncontroller:\n  groups:\n    \"12345\":\n      agents:\n        - Sim/a12345-1001\n        - Sim/a12345-1002\n", "controller.groups.12345.agents[1]", 10, "Sim/a12345-1002"},
		{"only the switch section written: built-in groups not checked",
			"switch:\n  sim_endpoints:\n    - {name: citizen-1}\n", "", 0, ""},
		{"PJSIP agents not checked",
			"controller:\n  groups:\n    \"110\": {agents: [PJSIP/a110-2001]}\n", "", 0, ""},
		{"not embedded: not checked",
			"ari:\n  embedded: false\n  url: http://127.0.0.1:8088/ari\ncontroller:\n  groups:\n    \"110\": {agents: [Sim/nobody]}\n", "", 0, ""},
		{"no sim endpoints at all (switch-only file): not checked",
			"switch:\n  sim_endpoints: []\n", "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tc.yaml))
			if tc.key == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want a problem at %s, got %v", tc.key, err)
			}
			for _, p := range ps {
				if p.Key == tc.key {
					if tc.line != 0 && p.Line != tc.line {
						t.Errorf("%s at line %d, want %d", p.Key, p.Line, tc.line)
					}
					if !strings.Contains(p.Msg, tc.msgHas) {
						t.Errorf("message %q lacks %q", p.Msg, tc.msgHas)
					}
					return
				}
			}
			t.Fatalf("no problem for %s in %v", tc.key, ps)
		})
	}
}

func hasProblem(ps Problems, keyPrefix string) bool {
	for _, p := range ps {
		if strings.HasPrefix(p.Key, keyPrefix) {
			return true
		}
	}
	return false
}

func TestSimAgentsCheckedInMemory(t *testing.T) {
	c := Default()
	c.Controller.Emergency.Agents = []string{"Sim/ghost"}
	err := c.Validate()
	var ps Problems
	if !errors.As(err, &ps) || !hasProblem(ps, "controller.emergency.agents[0]") {
		t.Fatalf("want a problem at controller.emergency.agents[0], got %v", err)
	}
}
