package config

import (
	"strings"
	"testing"
)

func TestSIPDefaults(t *testing.T) {
	c := Default()
	if c.SIP.ListenUDP != "127.0.0.1:5060" || c.SIP.ExternalMediaIP != "127.0.0.1" || len(c.SIP.Codecs) != 2 {
		t.Fatalf("defaults = %+v", c.SIP)
	}
}

func TestSIPParse(t *testing.T) {
	t.Setenv("LINKCTL_TEST_PW", "s3cret")
	yml := `sip:
  listen_udp: 127.0.0.1:5070
  accounts:
    - {username: a12345-1001, password: "${LINKCTL_TEST_PW}", platform: "12345", agent_id: "1001"}
  trunks:
    - {name: to110, platform: "110", address: 127.0.0.1:5090, options_interval: 10s}
`
	c, err := Parse("x.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SIP.Accounts[0].Secret(); got != "s3cret" {
		t.Fatalf("Secret() = %q", got)
	}
	if c.SIP.Trunks[0].OptionsInterval.D().Seconds() != 10 {
		t.Fatalf("options_interval = %v", c.SIP.Trunks[0].OptionsInterval)
	}
}

func TestSIPValidation(t *testing.T) {
	tests := []struct {
		name     string
		yml      string
		wantKey  string
		wantMsg  string
		wantLine int
	}{
		{"bad listen", "sip:\n  listen_udp: nonsense\n", "sip.listen_udp", "not host:port", 2},
		{"bad media ip", "sip:\n  external_media_ip: 0.0.0.0\n", "sip.external_media_ip", "not a usable IP", 2},
		{"port range", "sip:\n  rtp_port_min: 20000\n  rtp_port_max: 100\n", "sip.rtp_port_max", "must be above", 3},
		{"codec", "sip:\n  codecs: [PCMU, G729]\n", "sip.codecs[1]", "unknown codec", 2},
		{"platform", "sip:\n  accounts:\n    - {username: a1, password: x, platform: \"119\"}\n", "sip.accounts[0].platform", "unknown platform", 3},
		{"empty env password", "sip:\n  accounts:\n    - username: a1\n      password: ${LINKCTL_NOT_SET_XYZ}\n      platform: \"110\"\n", "sip.accounts[0].password", "empty or unset", 4},
		{"duplicate name", "sip:\n  accounts:\n    - {username: a1, password: x, platform: \"110\"}\n  trunks:\n    - {name: a1, address: 127.0.0.1:5090}\n", "sip.trunks[0].name", "already used", 5},
		{"trunk address", "sip:\n  trunks:\n    - name: t\n      address: 127.0.0.1\n", "sip.trunks[0].address", "not host:port", 4},
		{"bad resource", "sip:\n  trunks:\n    - {name: \"a/b\", address: 127.0.0.1:5090}\n", "sip.trunks[0].name", "only letters", 3},
		{"dtmf", "sip:\n  trunks:\n    - {name: t, address: 127.0.0.1:5090, dtmf_mode: inband}\n", "sip.trunks[0].dtmf_mode", "unknown dtmf mode", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.yml))
			ps, ok := err.(Problems)
			if !ok {
				t.Fatalf("err = %v, want Problems", err)
			}
			for _, p := range ps {
				if p.Key == tt.wantKey && strings.Contains(p.Msg, tt.wantMsg) {
					if p.Line != tt.wantLine {
						t.Fatalf("%s at line %d, want %d", p.Key, p.Line, tt.wantLine)
					}
					return
				}
			}
			t.Fatalf("no problem %s %q in %v", tt.wantKey, tt.wantMsg, ps)
		})
	}
}
