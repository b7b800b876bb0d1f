package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"linkctl/config"
)

// Test tokens: secrets are long enough for config validation.
const (
	tokAgent12345 = "agent-token-12345-1001"
	tokAgent110   = "agent-token-110-2001-x"
	tokSup12345   = "supervisor-token-12345"
	tokSup        = "supervisor-token-all-0"
	tokAdmin      = "admin-token-0000000000"
)

func testTokens() []config.APIToken {
	return []config.APIToken{
		{Name: "desk-1001", Token: tokAgent12345, Role: "agent", Agent: "a12345-1001", Platform: "12345"},
		{Name: "desk-2001", Token: tokAgent110, Role: "agent", Agent: "a110-2001", Platform: "110"},
		{Name: "sup-12345", Token: tokSup12345, Role: "supervisor", Platform: "12345"},
		{Name: "sup-all", Token: tokSup, Role: "supervisor"},
		{Name: "ops", Token: tokAdmin, Role: "admin"},
	}
}

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

func mustMatters(t testing.TB) *config.Matters {
	t.Helper()
	m, err := config.LoadMatters("")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testServer serves New(opt) on a real loopback listener.
func testServer(t testing.TB, opt Options) *httptest.Server {
	t.Helper()
	if opt.Tokens == nil {
		opt.Tokens = testTokens()
	}
	if opt.Logger == nil {
		opt.Logger = zap.NewNop()
	}
	srv := httptest.NewServer(New(opt))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// errField returns error.<name> of an error answer.
func (a answer) errField(name string) string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}

func call(t testing.TB, srv *httptest.Server, method, path, token, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}
