package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"linkctl/config"
)

// Role is what a bearer token may do.
type Role int

const (
	RoleNone Role = iota
	RoleAgent
	RoleSupervisor
	RoleAdmin
)

// String returns the role as written in configuration.
func (r Role) String() string {
	switch r {
	case RoleAgent:
		return "agent"
	case RoleSupervisor:
		return "supervisor"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads a configured role name.
func ParseRole(s string) (Role, bool) {
	switch s {
	case "agent":
		return RoleAgent, true
	case "supervisor":
		return RoleSupervisor, true
	case "admin":
		return RoleAdmin, true
	}
	return RoleNone, false
}

// Principal is who sent a request.
type Principal struct {
	Name     string // token name (safe to log)
	Role     Role
	Agent    string // role agent: the agent id or endpoint
	Platform string // "12345", "110" or "" (both)
	Dev      bool   // dev mode: loopback without configured tokens
}

// token is a configured token kept as a digest so that comparisons take the same
// time whatever the secret's length.
type token struct {
	digest [sha256.Size]byte
	p      Principal
}

// authenticator resolves bearer tokens to principals.
type authenticator struct {
	tokens []token
}

func newAuthenticator(cfg []config.APIToken) *authenticator {
	a := &authenticator{}
	for _, t := range cfg {
		secret := t.Secret()
		role, ok := ParseRole(t.Role)
		if secret == "" || !ok {
			continue // config validation reports these; never accept an empty secret
		}
		a.tokens = append(a.tokens, token{
			digest: sha256.Sum256([]byte(secret)),
			p:      Principal{Name: t.Name, Role: role, Agent: t.Agent, Platform: t.Platform},
		})
	}
	return a
}

func (a *authenticator) devMode() bool { return len(a.tokens) == 0 }

// authenticate returns the principal of a request, or a 401 answer.
func (a *authenticator) authenticate(r *http.Request, allowQueryToken bool) (Principal, *apiError) {
	if a.devMode() {
		if isLoopback(r.RemoteAddr) {
			return Principal{Name: "dev", Role: RoleAdmin, Dev: true}, nil
		}
		return Principal{}, newError(http.StatusUnauthorized, "unauthenticated",
			"未配置访问令牌，仅允许本机访问", "no API tokens configured: only loopback requests are allowed (dev mode)", "")
	}
	secret, found := bearer(r)
	if !found && allowQueryToken {
		secret = r.URL.Query().Get("access_token")
		found = secret != ""
	}
	if !found {
		return Principal{}, newError(http.StatusUnauthorized, "unauthenticated",
			"缺少访问令牌（Authorization: Bearer …）", "missing bearer token", "")
	}
	d := sha256.Sum256([]byte(secret))
	var match *token
	for i := range a.tokens { // no early exit: every token is compared
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			match = &a.tokens[i]
		}
	}
	if match == nil {
		return Principal{}, newError(http.StatusUnauthorized, "unauthenticated",
			"访问令牌无效", "unknown bearer token", "")
	}
	return match.p, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	s := strings.TrimSpace(h[7:])
	return s, s != ""
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// allows reports whether principal p has one of roles; admin may do everything.
func allows(p Principal, roles []Role) bool {
	if p.Role == RoleAdmin {
		return true
	}
	for _, r := range roles {
		if r == p.Role {
			return true
		}
	}
	return false
}

func forbidden(p Principal, roles []Role, whatZh, whatEn string) *apiError {
	names := make([]string, 0, len(roles)+1)
	for _, r := range roles {
		names = append(names, r.String())
	}
	if len(roles) == 0 || roles[len(roles)-1] != RoleAdmin {
		names = append(names, RoleAdmin.String())
	}
	need := strings.Join(names, " | ")
	e := newError(http.StatusForbidden, "forbidden",
		"角色 "+p.Role.String()+" 无权"+whatZh+"，需要角色 "+need,
		"role "+p.Role.String()+" may not "+whatEn+"; needs role "+need, "")
	e.Need = need
	return e
}
