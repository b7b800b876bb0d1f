package api

import (
	"net/http"
	"strings"
	"testing"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

func TestPushLifecycle(t *testing.T) {
	st := newFakeStore()
	m := mustMatters(t)
	srv := testServer(t, Options{Store: st, Matters: func() *config.Matters { return m }})
	create := `{"direction":"12345->110","category":"社会治安类/盗砸抢骗","summary":"市民反映小区多次发生电动车被盗","ticket_12345":"GD-100",
		"contact":{"name":"张先生","phone":"13800000001"},"attachments":[{"name":"现场照片","ref":"doc://12345/GD-100/1"}]}`
	a := call(t, srv, "POST", "/v1/pushes", tokAgent12345, create)
	if a.status != http.StatusCreated || a.header.Get("Location") != "/v1/pushes/push-1" || a.body["status"] != "pushed" {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	if a.body["created_by"] != "desk-1001" {
		t.Fatalf("created_by should be the token's name: %s", a.raw)
	}
	steps := []struct {
		name, path, token, body string
		want                    int
		status, field           string
	}{
		{"sender cannot accept its own push", "/status", tokAgent12345, `{"status":"accept"}`, 403, "", ""},
		{"return needs reason", "/status", tokAgent110, `{"status":"return"}`, 400, "", "reason"},
		{"unknown action", "/status", tokAgent110, `{"status":"approve"}`, 400, "", "status"},
		{"accept", "/status", tokAgent110, `{"status":"accept","ticket":"JQ-555"}`, 200, "accepted", ""},
		{"accept twice conflicts", "/status", tokAgent110, `{"status":"accept"}`, 409, "", ""},
		{"feedback needs result", "/feedback", tokAgent110, `{"handler":"派出所"}`, 400, "", "result"},
		{"feedback unknown field", "/feedback", tokAgent110, `{"result":"已处置","extra":1}`, 400, "", "extra"},
		{"feedback before handling conflicts", "/feedback", tokAgent110, `{"result":"已抓获嫌疑人"}`, 409, "", ""},
		{"handle", "/status", tokAgent110, `{"status":"handle"}`, 200, "handled", ""},
		{"handle twice conflicts", "/status", tokAgent110, `{"status":"handle"}`, 409, "", ""},
		{"feedback", "/feedback", tokAgent110, `{"result":"已抓获嫌疑人","handler":"城东派出所","ticket":"JQ-555","original_ticket":"GD-100"}`, 200, "fed-back", ""},
		{"supervisor cannot change", "/status", tokSup, `{"status":"handle"}`, 403, "", ""},
	}
	for _, s := range steps {
		a := call(t, srv, "POST", "/v1/pushes/push-1"+s.path, s.token, s.body)
		if a.status != s.want {
			t.Fatalf("%s: %d %s", s.name, a.status, a.raw)
		}
		if s.status != "" && a.body["status"] != s.status {
			t.Fatalf("%s: status %v", s.name, a.body["status"])
		}
		if s.field != "" && a.errField("field") != s.field {
			t.Fatalf("%s: field %q: %s", s.name, a.errField("field"), a.raw)
		}
	}
	a = call(t, srv, "GET", "/v1/pushes/push-1", tokSup, "")
	fb, _ := a.body["feedback"].(map[string]any)
	if a.status != 200 || fb["original_ticket"] != "GD-100" || len(a.body["history"].([]any)) != 4 {
		t.Fatalf("get after feedback: %s", a.raw)
	}
	if a = call(t, srv, "GET", "/v1/pushes?status=fed-back", tokSup, ""); a.body["count"] != float64(1) {
		t.Fatalf("list by status: %s", a.raw)
	}
	if a = call(t, srv, "GET", "/v1/pushes/push-404", tokSup, ""); a.status != 404 {
		t.Fatalf("missing push: %d", a.status)
	}
}

func TestPushValidation(t *testing.T) {
	m := mustMatters(t)
	srv := testServer(t, Options{Store: newFakeStore(), Matters: func() *config.Matters { return m }})
	base := func(over string) string {
		summary := `,"summary":"s"`
		if strings.Contains(over, `"summary"`) {
			summary = "" // a key given twice is refused: over replaces it
		}
		return `{"direction":"12345->110","category":"社会治安类/盗砸抢骗"` + summary + `,"ticket_12345":"GD-1"` + over + `}`
	}
	tests := []struct {
		name, token, body string
		want              int
		field, msgHas     string
	}{
		{"valid", tokAgent12345, base(""), 201, "", ""},
		{"missing direction", tokAgent12345, `{"category":"x","summary":"s"}`, 400, "direction", ""},
		{"bad direction", tokAgent12345, `{"direction":"12345->119","category":"x","summary":"s"}`, 400, "direction", "110->12345"},
		{"wrong platform for token", tokAgent110, base(""), 403, "direction", "110"},
		{"unknown category points at valid", tokAgent12345, `{"direction":"12345->110","category":"外星人","summary":"s","ticket_12345":"GD-1"}`, 400, "category", "见 valid"},
		{"category of the other direction", tokAgent110, `{"direction":"110->12345","category":"社会治安类/盗砸抢骗","summary":"s","ticket_110":"JQ-1"}`, 400, "category", "110->12345"},
		{"missing ticket", tokAgent12345, `{"direction":"12345->110","category":"社会治安类/盗砸抢骗","summary":"s"}`, 400, "ticket_12345", ""},
		{"blank summary", tokAgent12345, `{"direction":"12345->110","category":"社会治安类/盗砸抢骗","summary":"  ","ticket_12345":"GD-1"}`, 400, "summary", ""},
		{"long summary", tokAgent12345, base(`,"summary":"` + strings.Repeat("长", 2001) + `"`), 400, "summary", "2000"},
		{"attachment content refused", tokAgent12345, base(`,"attachments":[{"name":"x","ref":"data:image/png;base64,AAAA"}]`), 400, "attachments[0].ref", "引用"},
		{"attachment without ref", tokAgent12345, base(`,"attachments":[{"name":"x"}]`), 400, "attachments[0].ref", ""},
		{"newline allowed in summary", tokAgent12345, base(`,"summary":"第一行\n第二行"`), 201, "", ""},
		{"control char in contact", tokAgent12345, base(`,"contact":{"phone":"138\u0000"}`), 400, "contact.phone", "U+0000"},
		{"CR in flag", tokAgent12345, base(`,"flags":["涉案\r"]`), 400, "flags[0]", "U+000D"},
		{"unknown contact field", tokAgent12345, base(`,"contact":{"email":"a@b"}`), 400, "email", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, srv, "POST", "/v1/pushes", tc.token, tc.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.field != "" && a.errField("field") != tc.field {
				t.Fatalf("field %q, want %q: %s", a.errField("field"), tc.field, a.raw)
			}
			if !strings.Contains(a.errField("message"), tc.msgHas) {
				t.Fatalf("message lacks %q: %s", tc.msgHas, a.raw)
			}
		})
	}
}

func TestRestrictedPushHiddenFrom12345(t *testing.T) {
	st := newFakeStore()
	p, _ := st.CreatePush(t.Context(), store.Push{Direction: callflow.Dir110To12345, Category: "涉案", Restricted: true, Summary: "x", Ticket110: "JQ-1"})
	srv := testServer(t, Options{Store: st})
	if a := call(t, srv, "GET", "/v1/pushes/"+p.ID, tokSup12345, ""); a.status != 404 {
		t.Fatalf("restricted push shown to 12345: %d %s", a.status, a.raw)
	}
	if a := call(t, srv, "GET", "/v1/pushes", tokSup12345, ""); a.body["count"] != float64(0) {
		t.Fatalf("restricted push listed for 12345: %s", a.raw)
	}
	if a := call(t, srv, "GET", "/v1/pushes/"+p.ID, tokSup, ""); a.status != 200 {
		t.Fatalf("unrestricted reader: %d", a.status)
	}
}
