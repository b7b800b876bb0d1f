package server_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuthRequired(t *testing.T) {
	h := newHarness(t, nil)
	for _, creds := range [][2]string{{"", ""}, {h.sw.Username, "wrong"}, {"other", h.sw.Password}} {
		req, _ := http.NewRequest("GET", h.sw.URL+"/channels", nil)
		if creds[0] != "" {
			req.SetBasicAuth(creds[0], creds[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("credentials %q: status %d, want 401", creds, resp.StatusCode)
		}
	}
	if st, _ := h.do("GET", "/ari/channels", nil); st != 200 {
		t.Fatalf("with the right credentials: %d", st)
	}
}

// TestRouteShapes checks the answers of the read-only routes against the spec models.
func TestRouteShapes(t *testing.T) {
	h := newHarness(t, nil)
	st, info := h.do("GET", "/ari/asterisk/info", nil)
	if st != 200 {
		t.Fatalf("info %d", st)
	}
	validateResponse(t, "info", info)
	if name := info.(map[string]any)["config"].(map[string]any)["name"]; name != "linkctl-pbx" {
		t.Errorf("config.name %v", name)
	}
	if st, body := h.do("GET", "/ari/applications/linkctl", nil); st != 404 || body.(map[string]any)["message"] != "Application not found" {
		t.Errorf("application before any websocket: %d %v", st, body)
	}
	h.connectWS("linkctl")
	st, apps := h.do("GET", "/ari/applications", nil)
	if st != 200 || len(apps.([]any)) != 1 {
		t.Fatalf("applications %d %v", st, apps)
	}
	validateResponse(t, "applications", apps)
	st, eps := h.do("GET", "/ari/endpoints", nil)
	if st != 200 || len(eps.([]any)) != 6 {
		t.Fatalf("endpoints %d %v", st, eps)
	}
	validateResponse(t, "endpoints", eps)
	if st, ep := h.do("GET", "/ari/endpoints/Sim/citizen", nil); st != 200 || ep.(map[string]any)["resource"] != "citizen" {
		t.Errorf("endpoint %d %v", st, ep)
	}
	if st, _ := h.do("GET", "/ari/endpoints/PJSIP", nil); st != 404 {
		t.Errorf("unregistered technology: %d", st)
	}
	st, br := h.do("POST", "/ari/bridges", map[string]any{"type": "mixing", "bridgeId": "json-bridge", "name": "n"})
	if st != 200 || br.(map[string]any)["id"] != "json-bridge" {
		t.Fatalf("bridge from JSON body: %d %v", st, br)
	}
	validateResponse(t, "bridge", br)
	if st, list := h.do("GET", "/ari/bridges", nil); st != 200 || len(list.([]any)) != 1 {
		t.Errorf("bridges %d %v", st, list)
	}
	if st, body := h.do("GET", "/ari/no/such/resource", nil); st != 404 || body.(map[string]any)["message"] != "Resource not found" {
		t.Errorf("unknown resource: %d %v", st, body)
	}
	if st, _ := h.do("POST", "/ari/channels?endpoint=Sim/nobody&app=linkctl", nil); st != 500 {
		t.Errorf("unknown sim endpoint: %d, want 500 Allocation failed", st)
	}
	if st, body := h.do("POST", "/ari/channels/create", map[string]any{"endpoint": "Sim/citizen"}); st != 400 || !strings.Contains(body.(map[string]any)["message"].(string), "Application") {
		t.Errorf("create without app: %d %v", st, body)
	}
}
