package main

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"linkctl/config"
)

// TestSplitExamplesAgree: config/examples/split-switch.yaml and
// split-controller.yaml load, and they describe one deployment: the controller
// reaches the switch's ARI listener with the switch's credentials, and every agent
// it dials is an account of the switch's SIP technology on the right platform.
func TestSplitExamplesAgree(t *testing.T) {
	sw, err := config.Load("../../config/examples/split-switch.yaml")
	if err != nil {
		t.Fatalf("split-switch.yaml: %v", err)
	}
	ctl, err := config.Load("../../config/examples/split-controller.yaml")
	if err != nil {
		t.Fatalf("split-controller.yaml: %v", err)
	}
	u, err := url.Parse(ctl.ARI.URL)
	if err != nil {
		t.Fatalf("controller ari.url: %v", err)
	}
	accounts := map[string]string{}
	for _, a := range sw.SIP.Accounts {
		accounts[a.Username] = a.Platform
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"controller runs without an embedded switch (ari.embedded: false)", !ctl.ARI.Embedded},
		{"controller ari.url points at switch.listen (" + sw.Switch.Listen + ")", u.Host == sw.Switch.Listen && u.Path == "/ari"},
		{"same ARI user", ctl.ARI.Username == sw.ARI.Username},
		{"same ARI password source", ctl.ARI.Password == sw.ARI.Password},
		{"ARI password from the environment, not in the file", strings.HasPrefix(ctl.ARI.Password, "${")},
		{"same Stasis application as the switch's dialplan", len(sw.Switch.Dialplan) > 0 && sw.Switch.Dialplan[0].App == ctl.ARI.Application},
		{"no simulated phones in a real switch", len(sw.Switch.SimEndpoints) == 0},
		{"switch speaks SIP", sw.SIP.ListenUDP != "" && len(sw.SIP.Accounts) > 0},
		{"DTMF *1 has a category in both directions", ctl.Controller.DTMFCategory["12345->110"] != "" && ctl.Controller.DTMFCategory["110->12345"] != ""},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("split examples: %s: no", c.what)
		}
	}
	dialled := 0
	for platform, g := range ctl.Controller.Groups {
		for _, a := range append(g.Agents, ctl.Controller.Emergency.Agents...) {
			res, ok := strings.CutPrefix(a, "PJSIP/")
			if !ok {
				t.Errorf("group %s agent %q is not a PJSIP dial string", platform, a)
				continue
			}
			p, known := accounts[res]
			if !known {
				t.Errorf("group %s dials %s, which is no SIP account of the switch", platform, a)
			}
			if slices.Contains(g.Agents, a) && p != platform {
				t.Errorf("group %s dials %s, an account of platform %q", platform, a, p)
			}
			dialled++
		}
	}
	if dialled == 0 {
		t.Error("controller dials no agent")
	}
}

// TestSwitchCommandRefusesBadInvocations: arguments and configs the switch
// subcommand must refuse before binding anything.
func TestSwitchCommandRefusesBadInvocations(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("switch:\n  listen: 0.0.0.0:8088\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		wantUsage bool
		wantText  string
	}{
		{"stray argument", []string{"switch", "now"}, true, `unexpected argument "now"`},
		{"unknown flag", []string{"switch", "-port", "1"}, true, "flag provided but not defined"},
		{"missing config file", []string{"switch", "-config", filepath.Join(t.TempDir(), "nope.yaml")}, false, "read config"},
		{"ARI face off loopback", []string{"switch", "-config", bad}, false, "switch.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(tt.args, &out, &errOut)
			var ue usageError
			if err == nil || errors.As(err, &ue) != tt.wantUsage || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("run %v: error %v (usage %v), want usage=%v containing %q", tt.args, err, errors.As(err, &ue), tt.wantUsage, tt.wantText)
			}
			if strings.Contains(out.String(), "ARI on") {
				t.Errorf("switch started despite the bad invocation: %s", out.String())
			}
		})
	}
}
