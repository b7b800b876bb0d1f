package config

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// envRef reports whether s is a "${NAME}" reference and which variable.
func envRef(s string) (string, bool) {
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") && len(s) > 3 {
		return s[2 : len(s)-1], true
	}
	return "", false
}

// checkEnvSecrets reports secrets written as ${NAME} whose variable is unset
// or empty: linkctl would otherwise start with an empty password. (API
// tokens, SIP account passwords, store.dsn and ticket-system secrets are checked by
// their own sections.)
func (c *Config) checkEnvSecrets(v *validator) {
	check := func(key, raw string) {
		if name, ok := envRef(raw); ok && os.Getenv(name) == "" {
			v.add(key, fmt.Sprintf("environment variable %s is empty or unset", name))
		}
	}
	check("ari.password", c.ARI.Password)
	for i, t := range c.SIP.Trunks {
		check(fmt.Sprintf("sip.trunks[%d].password", i), t.Password)
	}
}

// checkAgentPlatforms reports agent dial strings whose platform, as sip.accounts
// (PJSIP/<username>) or sip.trunks (PJSIP/<trunk>/<number>) define it,
// contradicts the group listing them: a 110 phone in controller.groups.12345,
// or a 12345 one among the emergency (110) agents. Sim endpoints and dial
// strings naming no configured account or trunk have no known platform.
func (c *Config) checkAgentPlatforms(v *validator) {
	accounts := map[string]string{}
	for _, a := range c.SIP.Accounts {
		if a.Platform != "" {
			accounts[a.Username] = a.Platform
		}
	}
	trunks := map[string]string{}
	for _, t := range c.SIP.Trunks {
		if t.Platform != "" {
			trunks[t.Name] = t.Platform
		}
	}
	check := func(key, want string, agents []string) {
		for i, a := range agents {
			tech, res, ok := strings.Cut(a, "/")
			if !ok || !strings.EqualFold(tech, "PJSIP") {
				continue
			}
			name, _, viaTrunk := strings.Cut(res, "/")
			src, what := accounts, "sip.accounts"
			if viaTrunk {
				src, what = trunks, "sip.trunks"
			}
			if p, ok := src[name]; ok && p != want {
				v.add(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("%q is a %s agent (%s %q has platform %s), not a %s one", a, p, what, name, p, want))
			}
		}
	}
	groups := make([]string, 0, len(c.Controller.Groups))
	for p := range c.Controller.Groups {
		groups = append(groups, p)
	}
	sort.Strings(groups)
	for _, p := range groups {
		if p == "12345" || p == "110" {
			check("controller.groups."+p+".agents", p, c.Controller.Groups[p].Agents)
		}
	}
	check("controller.emergency.agents", "110", c.Controller.Emergency.Agents)
}
