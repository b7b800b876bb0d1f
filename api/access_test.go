package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"linkctl/config"
)

func accessFixture(t *testing.T) (*httptest.Server, *fakeController) {
	own := sampleCall("c1", t0) // legs: a12345-1001 and a110-2001
	other := sampleCall("c2", t0)
	other.Legs = other.Legs[:2] // citizen + a12345-1001 only
	other.Legs[1].Agent, other.Legs[1].Endpoint = "a12345-1002", "PJSIP/a12345-1002"
	ctl := newFakeController(own, other)
	st := newFakeStore(own, other)
	m := mustMatters(t)
	srv := testServer(t, Options{Controller: ctl, Store: st, Matters: func() *config.Matters { return m },
		Reload: func(context.Context) (*config.Matters, error) { return m, nil }})
	return srv, ctl
}

func TestAccessControl(t *testing.T) {
	srv, _ := accessFixture(t)
	press := `{"key":"cancel"}`
	tests := []struct {
		name, method, path, token, body string
		want                            int
		wantNeed                        string // 403: need_role
	}{
		{"no token", "GET", "/v1/calls", "", "", 401, ""},
		{"unknown token", "GET", "/v1/calls", "not-a-configured-token-at-all", "", 401, ""},
		{"agent cannot list", "GET", "/v1/calls", tokAgent12345, "", 403, "supervisor | admin"},
		{"supervisor lists", "GET", "/v1/calls", tokSup, "", 200, ""},
		{"admin lists", "GET", "/v1/calls", tokAdmin, "", 200, ""},
		{"supervisor cannot reload", "POST", "/v1/admin/reload", tokSup, "", 403, "admin"},
		{"agent cannot reload", "POST", "/v1/admin/reload", tokAgent12345, "", 403, "admin"},
		{"admin reloads", "POST", "/v1/admin/reload", tokAdmin, "", 200, ""},
		{"agent presses on own call", "POST", "/v1/calls/c1/softkeys", tokAgent12345, press, 200, ""},
		{"110 agent presses on own call", "POST", "/v1/calls/c1/softkeys", tokAgent110, press, 200, ""},
		{"agent not a leg", "POST", "/v1/calls/c2/softkeys", tokAgent12345, press, 403, ""},
		{"agent speaks for another agent", "POST", "/v1/calls/c1/softkeys", tokAgent12345, `{"key":"cancel","agent":"a110-2001"}`, 403, ""},
		{"supervisor cannot press", "POST", "/v1/calls/c1/softkeys", tokSup, press, 403, "agent | admin"},
		{"admin presses for an agent", "POST", "/v1/calls/c1/softkeys", tokAdmin, `{"key":"cancel","agent":"a12345-1001"}`, 200, ""},
		{"agent reads own call", "GET", "/v1/calls/c1", tokAgent12345, "", 200, ""},
		{"agent cannot read other call", "GET", "/v1/calls/c2", tokAgent110, "", 403, ""},
		{"supervisor cannot push", "POST", "/v1/pushes", tokSup, `{}`, 403, "agent | admin"},
		{"agent reads matters", "GET", "/v1/matters", tokAgent110, "", 200, ""},
		{"health is public", "GET", "/healthz", "", "", 200, ""},
		{"page is public", "GET", "/", "", "", 200, ""},
		{"openapi is public", "GET", "/openapi.json", "", "", 200, ""},
		{"unknown route", "GET", "/v1/nope", tokAdmin, "", 404, ""},
		{"wrong method", "DELETE", "/v1/calls/c1", tokAdmin, "", 405, ""},
		{"wrong method on a POST route", "GET", "/v1/admin/reload", tokAdmin, "", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			switch tc.want {
			case 405:
				if a.header.Get("Allow") == "" || a.errField("code") != "method_not_allowed" {
					t.Fatalf("405 without Allow: %v %s", a.header, a.raw)
				}
			case 401:
				if got := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Fatalf("401 without WWW-Authenticate Bearer: %q", got)
				}
				if a.errField("code") != "unauthenticated" || a.errField("message") == "" {
					t.Fatalf("401 body: %s", a.raw)
				}
			case 403:
				if tc.wantNeed != "" && a.errField("need_role") != tc.wantNeed {
					t.Fatalf("need_role %q, want %q: %s", a.errField("need_role"), tc.wantNeed, a.raw)
				}
				if !strings.Contains(a.errField("message"), "/") {
					t.Fatalf("403 message should be zh-CN / English: %s", a.raw)
				}
			}
		})
	}
}

func TestBearerSchemeCaseInsensitive(t *testing.T) {
	srv, _ := accessFixture(t)
	a := call(t, srv, "GET", "/v1/calls", "", "", "Authorization", "bearer "+tokSup)
	if a.status != 200 {
		t.Fatalf("lower-case scheme: %d %s", a.status, a.raw)
	}
	a = call(t, srv, "GET", "/v1/calls", "", "", "Authorization", "Basic "+tokSup)
	if a.status != 401 {
		t.Fatalf("basic scheme accepted: %d", a.status)
	}
	// Query tokens are only for the event stream.
	a = call(t, srv, "GET", "/v1/calls?access_token="+tokSup, "", "")
	if a.status != 401 {
		t.Fatalf("query token accepted outside /v1/events: %d", a.status)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	st := newFakeStore(sampleCall("c1", t0))
	ctl := newFakeController(sampleCall("c1", t0))
	srv := testServer(t, Options{Controller: ctl, Store: st, Logger: zap.New(core)})
	wrong := "wrong-secret-that-must-not-leak"
	call(t, srv, "GET", "/v1/calls", tokSup, "")
	call(t, srv, "GET", "/v1/calls", wrong, "")
	call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent12345, `{"key":"cancel"}`)
	call(t, srv, "POST", "/v1/calls/c1/softkeys", tokSup, `{"key":"cancel"}`)
	call(t, srv, "GET", "/v1/calls?access_token="+tokAdmin, "", "")
	if logs.Len() == 0 {
		t.Fatal("no log entries: the test would not see a leak")
	}
	for _, e := range logs.All() {
		line := fmt.Sprintf("%s %v", e.Message, e.ContextMap())
		for _, secret := range []string{tokSup, tokAgent12345, tokAdmin, wrong} {
			if strings.Contains(line, secret) {
				t.Fatalf("secret in log: %s", line)
			}
		}
	}
	if logs.FilterField(zap.String("token", "desk-1001")).Len() == 0 {
		t.Fatal("requests should be logged with the token's name")
	}
}

func TestDevMode(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	h := New(Options{Controller: newFakeController(sampleCall("c1", t0)), Logger: zap.New(core), Tokens: []config.APIToken{}})
	if logs.FilterMessageSnippet("dev mode").Len() != 1 {
		t.Fatalf("dev mode must log one warning, got %v", logs.All())
	}
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:5555", 200},
		{"[::1]:5555", 200},
		{"10.1.2.3:5555", 401},
		{"192.168.0.9:5555", 401},
	} {
		req := httptest.NewRequest("POST", "/v1/admin/reload", nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		// reload is not wired here: dev-mode admin gets past access control to 503.
		got := rec.Code
		if tc.want == 200 && got != http.StatusServiceUnavailable {
			t.Fatalf("%s: dev mode loopback should act as admin, got %d %s", tc.remote, got, rec.Body)
		}
		if tc.want == 401 && got != 401 {
			t.Fatalf("%s: non-loopback in dev mode should be 401, got %d", tc.remote, got)
		}
	}
}

func TestRoleString(t *testing.T) {
	for _, tc := range []struct {
		r    Role
		want string
	}{{RoleNone, "none"}, {RoleAgent, "agent"}, {RoleSupervisor, "supervisor"}, {RoleAdmin, "admin"}} {
		if tc.r.String() != tc.want {
			t.Fatalf("%d.String() = %q", tc.r, tc.r.String())
		}
		if tc.r != RoleNone {
			if back, ok := ParseRole(tc.want); !ok || back != tc.r {
				t.Fatalf("ParseRole(%q) = %v %v", tc.want, back, ok)
			}
		}
	}
}
