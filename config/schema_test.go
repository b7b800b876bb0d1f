package config

import (
	"errors"
	"strings"
	"testing"
)

// parseProblems parses yaml and returns its problems (failing if it parsed).
func parseProblems(t *testing.T, yml string) Problems {
	t.Helper()
	_, err := Parse("x.yaml", []byte(yml))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error = %v, want Problems", err)
	}
	return ps
}

// D11: each gap of the config check, as a table: the one problem expected
// (key, line, message part), or none (want.Key == "").
func TestConfigCheckGaps(t *testing.T) {
	t.Setenv("LINKCTL_TEST_SET", "s3cret-value")
	t.Setenv("LINKCTL_TEST_EMPTY", "")
	accounts := "sip:\n  accounts:\n    - {username: a110-2001, password: pw, platform: \"110\"}\n    - {username: a12345-1001, password: pw, platform: \"12345\"}\n" +
		"  trunks:\n    - {name: to110, platform: \"110\", address: \"127.0.0.1:5070\"}\n"
	tests := []struct {
		name string
		yaml string
		want Problem
	}{
		// ${ENV} secrets that expand to nothing.
		{"ari.password unset variable", "ari:\n  password: ${LINKCTL_TEST_UNSET_VAR}\n",
			Problem{Key: "ari.password", Line: 2, Msg: "environment variable LINKCTL_TEST_UNSET_VAR is empty or unset"}},
		{"ari.password empty variable", "ari:\n  password: ${LINKCTL_TEST_EMPTY}\n",
			Problem{Key: "ari.password", Line: 2, Msg: "LINKCTL_TEST_EMPTY is empty or unset"}},
		{"ari.password set variable", "ari:\n  password: ${LINKCTL_TEST_SET}\n", Problem{}},
		{"trunk password unset variable", "sip:\n  trunks:\n    - name: peer\n      address: \"127.0.0.1:5070\"\n      username: u\n      password: ${LINKCTL_TEST_UNSET_PW}\n",
			Problem{Key: "sip.trunks[0].password", Line: 6, Msg: "LINKCTL_TEST_UNSET_PW is empty or unset"}},
		// Booleans: true and false only.
		{"bool true", "ari:\n  embedded: true\n", Problem{}},
		{"bool false", "ari:\n  embedded: false\n", Problem{}},
		{"bool yes", "ari:\n  embedded: yes\n", Problem{Key: "ari.embedded", Line: 2, Msg: `must be true or false, got "yes"`}},
		{"bool quoted yes", "ari:\n  embedded: \"yes\"\n", Problem{Key: "ari.embedded", Line: 2, Msg: "without quotes"}},
		{"bool off", "ari:\n  embedded: off\n", Problem{Key: "ari.embedded", Line: 2, Msg: `got "off"`}},
		{"bool quoted false", "ari:\n  embedded: \"false\"\n", Problem{Key: "ari.embedded", Line: 2, Msg: "without quotes"}},
		// Syntax errors: the right line, tabs too.
		{"unclosed flow list on line 2", "ari:\n  url: [x\nlog:\n  level: info\n", Problem{Key: "(file)", Line: 2, Msg: "YAML syntax error"}},
		{"list item after a mapping on line 2", "k: v\n- a\n", Problem{Key: "(file)", Line: 2, Msg: "did not find expected key"}},
		{"tab indentation on line 2", "ari:\n\turl: x\n", Problem{Key: "(file)", Line: 2, Msg: "tabs are not allowed"}},
		{"tab indentation on line 3", "ari:\n  url: x\n\tusername: y\n", Problem{Key: "(file)", Line: 3, Msg: "tab"}},
		{"tab on line 1", "\tari: x\n", Problem{Key: "(file)", Line: 1, Msg: "tabs are not allowed"}},
		{"unterminated quote", "log:\n  level: \"info\n", Problem{Key: "(file)", Line: 2, Msg: "YAML syntax error"}},
		// Unknown keys list the known ones, no Go type names.
		{"unknown ari key", "ari:\n  requst_timeout: 5s\n",
			Problem{Key: "ari.requst_timeout", Line: 2, Msg: `unknown key "requst_timeout" (known: application, embedded, password, request_timeout, url, username)`}},
		{"unknown top-level key", "aari: {}\n", Problem{Key: "aari", Line: 1, Msg: "known: api, ari, controller, log, shutdown, sip, store, switch"}},
		{"unknown key in a list element", accounts + "    - {name: x, platfrom: \"110\", address: \"127.0.0.1:5071\"}\n",
			Problem{Key: "sip.trunks[1].platfrom", Line: 7, Msg: `unknown key "platfrom"`}},
		{"unknown key in a map value", "controller:\n  groups:\n    \"12345\":\n      ring_timout: 5s\n      agents: [Sim/a12345-1001]\n",
			Problem{Key: "controller.groups.12345.ring_timout", Line: 4, Msg: `unknown key "ring_timout"`}},
		{"list for a number", "store:\n  write_queue: [1]\n", Problem{Key: "store.write_queue", Line: 2, Msg: "want a whole number, got a list"}},
		{"text for a number", "store:\n  write_queue: lots\n", Problem{Key: "store.write_queue", Line: 2, Msg: `want a whole number, got "lots"`}},
		// Agent platforms against sip.accounts / sip.trunks.
		{"110 account in the 12345 group", accounts + "controller:\n  groups:\n    \"12345\":\n      agents: [PJSIP/a12345-1001, PJSIP/a110-2001]\n",
			Problem{Key: "controller.groups.12345.agents[1]", Line: 10, Msg: `"PJSIP/a110-2001" is a 110 agent (sip.accounts "a110-2001" has platform 110), not a 12345 one`}},
		{"110 trunk in the 12345 group", accounts + "controller:\n  groups:\n    \"12345\":\n      agents: [PJSIP/to110/2001]\n",
			Problem{Key: "controller.groups.12345.agents[0]", Line: 10, Msg: `sip.trunks "to110" has platform 110`}},
		{"12345 account among emergency agents", accounts + "controller:\n  emergency:\n    agents: [PJSIP/a12345-1001]\n",
			Problem{Key: "controller.emergency.agents[0]", Line: 9, Msg: "not a 110 one"}},
		{"accounts in their own groups", accounts + "controller:\n  groups:\n    \"12345\":\n      agents: [PJSIP/a12345-1001]\n    \"110\":\n      agents: [PJSIP/a110-2001]\n", Problem{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.yaml))
			if tt.want.Key == "" {
				if err != nil {
					t.Fatalf("want no problem, got:\n%v", err)
				}
				return
			}
			ps := parseProblems(t, tt.yaml)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1 (%s line %d):\n%v", len(ps), tt.want.Key, tt.want.Line, ps)
			}
			g := ps[0]
			if g.Key != tt.want.Key || g.Line != tt.want.Line || !strings.Contains(g.Msg, tt.want.Msg) {
				t.Errorf("problem = %q (key %q line %d), want key %q line %d msg containing %q", g.String(), g.Key, g.Line, tt.want.Key, tt.want.Line, tt.want.Msg)
			}
			if strings.Contains(g.Msg, "config.") || strings.Contains(g.Msg, "type ") {
				t.Errorf("message shows Go types: %q", g.Msg)
			}
		})
	}
}
