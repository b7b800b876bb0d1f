package config

import (
	"fmt"
	"net"
	"strings"
)

// APIConfig configures the HTTP API for agent desktops and supervisors (package api).
type APIConfig struct {
	// Listen is the address of the HTTP API; loopback by default.
	Listen string `yaml:"listen"`
	// MaxBodyBytes caps every request body; larger bodies are refused with 400.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Tokens are the bearer tokens accepted by the API. With none configured the
	// API runs in dev mode: loopback requests act as admin and a warning is logged.
	Tokens []APIToken `yaml:"tokens"`
}

// APIToken is one bearer token and what it may do.
type APIToken struct {
	// Name identifies the token in logs (the token itself is never logged).
	Name string `yaml:"name"`
	// Token is the secret; "${ENV_VAR}" reads it from the environment.
	Token string `yaml:"token"`
	// Role is agent, supervisor or admin.
	Role string `yaml:"role"`
	// Agent is the agent id or endpoint this token speaks for (role agent only):
	// softkeys are accepted only on calls where this agent is a leg.
	Agent string `yaml:"agent"`
	// Platform is "12345", "110" or empty (both). Readers on the 12345 side see
	// restricted 110 records redacted.
	Platform string `yaml:"platform"`
}

// Secret returns the token with ${ENV} expanded.
func (t APIToken) Secret() string { return ExpandEnv(t.Token) }

// APIRoles are the roles a token may have.
var APIRoles = []string{"agent", "supervisor", "admin"}

func (c *APIConfig) setDefaults() {
	c.Listen = "127.0.0.1:8080"
	c.MaxBodyBytes = 64 << 10
}

func (c *APIConfig) validate(v *validator) {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		v.add("api.listen", fmt.Sprintf("%q is not host:port (e.g. 127.0.0.1:8080): %v", c.Listen, err))
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 16<<20 {
		v.add("api.max_body_bytes", fmt.Sprintf("%d out of range (1024 .. 16777216)", c.MaxBodyBytes))
	}
	names := map[string]int{}
	secrets := map[string]int{}
	for i, t := range c.Tokens {
		key := fmt.Sprintf("api.tokens[%d]", i)
		if t.Name == "" {
			v.add(key+".name", "must not be empty (it names the token in logs)")
		} else if prev, dup := names[t.Name]; dup {
			v.add(key+".name", fmt.Sprintf("%q repeats api.tokens[%d]", t.Name, prev))
		} else {
			names[t.Name] = i
		}
		switch secret := t.Secret(); {
		case secret == "" && strings.HasPrefix(t.Token, "${"):
			v.add(key+".token", fmt.Sprintf("environment variable %s is empty or unset", strings.TrimSuffix(strings.TrimPrefix(t.Token, "${"), "}")))
		case secret == "":
			v.add(key+".token", "must not be empty")
		case len(secret) < 16:
			v.add(key+".token", "too short: use at least 16 characters")
		default:
			if prev, dup := secrets[secret]; dup {
				v.add(key+".token", fmt.Sprintf("same secret as api.tokens[%d]: each token must be unique", prev))
			}
			secrets[secret] = i
		}
		switch t.Role {
		case "agent":
			if t.Agent == "" {
				v.add(key+".agent", "required for role agent (the agent id or endpoint the token speaks for)")
			}
		case "supervisor", "admin":
			if t.Agent != "" {
				v.add(key+".agent", "only tokens with role agent name an agent")
			}
		default:
			v.add(key+".role", fmt.Sprintf("unknown role %q (%s)", t.Role, strings.Join(APIRoles, ", ")))
		}
		switch t.Platform {
		case "", "12345", "110":
		default:
			v.add(key+".platform", fmt.Sprintf("unknown platform %q (12345, 110 or empty for both)", t.Platform))
		}
	}
}
