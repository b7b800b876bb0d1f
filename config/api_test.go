package config

import (
	"strings"
	"testing"
)

func TestAPIConfigValidation(t *testing.T) {
	t.Setenv("LINKCTL_TEST_API_TOKEN", "from-the-environment-123")
	tests := []struct {
		name    string
		yaml    string
		wantKey string // "" = valid
		wantMsg string
		line    int
	}{
		{"defaults", "", "", "", 0},
		{"env token", "api:\n  tokens:\n    - name: sup\n      token: ${LINKCTL_TEST_API_TOKEN}\n      role: supervisor\n", "", "", 0},
		{"bad listen", "api:\n  listen: nonsense\n", "api.listen", "host:port", 2},
		{"body cap", "api:\n  max_body_bytes: 10\n", "api.max_body_bytes", "out of range", 2},
		{"unknown role", "api:\n  tokens:\n    - name: x\n      token: aaaaaaaaaaaaaaaaaaaa\n      role: root\n", "api.tokens[0].role", "unknown role", 5},
		{"agent needs agent", "api:\n  tokens:\n    - name: x\n      token: aaaaaaaaaaaaaaaaaaaa\n      role: agent\n", "api.tokens[0].agent", "required", 3},
		{"short token", "api:\n  tokens:\n    - name: x\n      token: short\n      role: admin\n", "api.tokens[0].token", "too short", 4},
		{"unset env", "api:\n  tokens:\n    - name: x\n      token: ${LINKCTL_TEST_UNSET_VAR_XYZ}\n      role: admin\n", "api.tokens[0].token", "LINKCTL_TEST_UNSET_VAR_XYZ", 4},
		{"dup name", "api:\n  tokens:\n    - {name: x, token: aaaaaaaaaaaaaaaaaaaa, role: admin}\n    - {name: x, token: bbbbbbbbbbbbbbbbbbbb, role: admin}\n", "api.tokens[1].name", "repeats", 4},
		{"dup secret", "api:\n  tokens:\n    - {name: x, token: aaaaaaaaaaaaaaaaaaaa, role: admin}\n    - {name: y, token: aaaaaaaaaaaaaaaaaaaa, role: admin}\n", "api.tokens[1].token", "unique", 4},
		{"bad platform", "api:\n  tokens:\n    - {name: x, token: aaaaaaaaaaaaaaaaaaaa, role: supervisor, platform: 119}\n", "api.tokens[0].platform", "unknown platform", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tc.yaml))
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if c.API.Listen != "127.0.0.1:8080" || c.API.MaxBodyBytes != 64<<10 {
					t.Fatalf("defaults lost: %+v", c.API)
				}
				return
			}
			ps, ok := err.(Problems)
			if !ok {
				t.Fatalf("want Problems, got %v", err)
			}
			for _, p := range ps {
				if p.Key == tc.wantKey && strings.Contains(p.Msg, tc.wantMsg) {
					if tc.line != 0 && p.Line != tc.line {
						t.Fatalf("%s reported at line %d, want %d", p.Key, p.Line, tc.line)
					}
					return
				}
			}
			t.Fatalf("no problem %s ~ %q in %v", tc.wantKey, tc.wantMsg, ps)
		})
	}
}
