package config

import (
	"errors"
	"strings"
	"testing"
)

func TestSwitchDefaults(t *testing.T) {
	c := Default()
	if c.Switch.Listen != "127.0.0.1:8088" || c.Switch.SystemName != "linkctl-pbx" || c.Switch.ToneZone != "cn" {
		t.Fatalf("defaults %+v", c.Switch)
	}
	if len(c.Switch.Dialplan) != 2 || c.Switch.Dialplan[0].Exten != "12345" || c.Switch.Dialplan[1].Exten != "110" ||
		strings.Join(c.Switch.Dialplan[1].Args, ",") != "inbound,110" {
		t.Fatalf("dialplan %+v", c.Switch.Dialplan)
	}
}

func TestSwitchValidation(t *testing.T) {
	cases := []struct {
		name, yaml string
		key        string
		line       int
	}{
		{"not loopback", "switch:\n  listen: 0.0.0.0:8088\n", "switch.listen", 2},
		{"bad zone", "switch:\n  tonezone: mars\n", "switch.tonezone", 2},
		{"bad behavior", "switch:\n  sim_endpoints:\n    - name: a\n      behavior: answer\n    - name: b\n      behavior: explode\n", "switch.sim_endpoints[1].behavior", 6},
		{"duplicate exten", "switch:\n  dialplan:\n    - {exten: \"110\", app: linkctl}\n    - {exten: \"110\", app: linkctl}\n", "switch.dialplan[1].exten", 4},
		{"no app", "switch:\n  dialplan:\n    - exten: \"12345\"\n", "switch.dialplan[0].app", 3},
		{"missing sounds", "switch:\n  sounds_dir: /no/such/dir\n", "switch.sounds_dir", 2},
		{"entity id", "switch:\n  entity_id: nope\n", "switch.entity_id", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("linkctl.yaml", []byte(tc.yaml))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err %v, want Problems", err)
			}
			for _, p := range ps {
				if p.Key == tc.key {
					if p.Line != tc.line {
						t.Errorf("%s at line %d, want %d", p.Key, p.Line, tc.line)
					}
					return
				}
			}
			t.Fatalf("no problem for %s in %v", tc.key, ps)
		})
	}
	if _, err := Parse("ok.yaml", []byte("switch:\n  listen: 127.0.0.1:0\n  sim_endpoints:\n    - {name: citizen-1, behavior: busy}\n")); err != nil {
		t.Fatalf("valid switch section rejected: %v", err)
	}
}
