package examples

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"linkctl/config"
)

// softphones.yaml must load and validate, and what its header tells a person
// (users, passwords, server address, feature codes) must be what it configures.
func TestSoftphonesExample(t *testing.T) {
	const path = "softphones.yaml"
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load(%s): %v", path, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header := string(raw)
	if i := strings.Index(header, "\nlog:"); i > 0 {
		header = header[:i]
	}

	if !cfg.ARI.Embedded || len(cfg.Switch.SimEndpoints) != 0 {
		t.Errorf("want the embedded switch without Sim endpoints, got embedded=%v sim=%v", cfg.ARI.Embedded, cfg.Switch.SimEndpoints)
	}
	if !cfg.SIP.AllowAnonymous {
		t.Error("the citizen softphone calls without an account: sip.allow_anonymous must be true")
	}
	if !strings.Contains(header, "server "+cfg.SIP.ListenUDP) {
		t.Errorf("header does not name the SIP server %s", cfg.SIP.ListenUDP)
	}

	// every documented account exists with that password, and every group agent is an account of its platform
	accounts := map[string]config.SIPAccount{}
	for _, a := range cfg.SIP.Accounts {
		accounts[a.Username] = a
	}
	documented := regexp.MustCompile(`user (\S+)\s+password (\S+)`).FindAllStringSubmatch(header, -1)
	if len(documented) != len(accounts) {
		t.Errorf("header documents %d accounts, config has %d", len(documented), len(accounts))
	}
	for _, m := range documented {
		if a, ok := accounts[m[1]]; !ok || a.Secret() != m[2] {
			t.Errorf("documented account %s / %s does not match sip.accounts", m[1], m[2])
		}
	}
	for platform, g := range cfg.Controller.Groups {
		for _, dial := range g.Agents {
			user, ok := strings.CutPrefix(dial, "PJSIP/")
			if a, found := accounts[user]; !ok || !found || a.Platform != platform {
				t.Errorf("group %s agent %q is not a PJSIP account of platform %s", platform, dial, platform)
			}
		}
	}

	// the feature codes the header teaches are the configured ones, and *1 works as DTMF in both directions
	keys := cfg.Controller.Softkeys
	for code, name := range map[string]string{keys.Transfer: "one-key transfer", keys.ThreeWay: "three-way", keys.HandOver: "hand over", keys.Keep: "keep", keys.Emergency: "emergency"} {
		if !strings.Contains(header, code+" "+name) {
			t.Errorf("header does not teach %s as %q", code, name)
		}
	}
	for _, dir := range []string{"12345->110", "110->12345"} {
		if cfg.Controller.DTMFCategory[dir] == "" {
			t.Errorf("controller.dtmf_category[%s] unset: a *1 pressed on a phone would be refused", dir)
		}
	}
}
