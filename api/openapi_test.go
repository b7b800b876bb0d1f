package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
)

type openapiDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc openapiDoc
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, rt := range routes() {
		registered[rt.method+" "+rt.path] = true
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not documented: %v; documented but not routed: %v", missing, extra)
	}

	// Every documented operation reaches a handler (not the no-route fallback), and
	// its documented security matches the route's.
	h := New(Options{Tokens: testTokens()})
	for key := range documented {
		method, path, _ := strings.Cut(key, " ")
		url := strings.NewReplacer("{id}", "x1", "{name}", "app.js").Replace(path)
		req := httptest.NewRequest(method, url, nil)
		req.Header.Set("Authorization", "Bearer "+tokAdmin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), `"code":"no_route"`) || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s is documented but not routed (%d %s)", key, rec.Code, rec.Body)
		}
		var op struct {
			Security *[]any `json:"security"`
		}
		_ = json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op)
		public := op.Security != nil && len(*op.Security) == 0
		for _, rt := range routes() {
			if rt.method == method && rt.path == path && rt.public != public {
				t.Errorf("%s: documented public=%v, route public=%v", key, public, rt.public)
			}
		}
	}
	// The served document is the embedded one.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 || rec.Body.Len() != len(openapiJSON) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %d bytes", rec.Code, rec.Body.Len())
	}
}

func TestAssets(t *testing.T) {
	h := New(Options{Tokens: testTokens()})
	for _, tc := range []struct {
		path, ctype string
		want        int
		has         string
	}{
		{"/", "text/html", 200, "12345–110 联动监控"},
		{"/assets/app.js", "text/javascript", 200, "EventSource"},
		{"/assets/style.css", "text/css", 200, "svg.tl"},
		{"/assets/secret.txt", "", 404, ""},
		{"/assets/..%2fapi.go", "", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.want {
			t.Fatalf("%s: %d", tc.path, rec.Code)
		}
		if tc.want == 200 && (!strings.HasPrefix(rec.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(rec.Body.String(), tc.has)) {
			t.Fatalf("%s: %s", tc.path, rec.Header().Get("Content-Type"))
		}
	}
}

// Every $ref in the document resolves to a schema.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	refs := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				refs++
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				if _, ok := schemas[name]; !ok || name == ref {
					t.Errorf("unresolved $ref %q", ref)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	if refs < 20 {
		t.Fatalf("only %d $refs: document looks truncated", refs)
	}
}
