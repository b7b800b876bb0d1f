package api

import (
	"strings"
	"testing"

	"linkctl/config"
)

func TestStrictSoftkeyBodies(t *testing.T) {
	ctl := newFakeController(sampleCall("c1", t0))
	m := mustMatters(t)
	srv := testServer(t, Options{Controller: ctl, Matters: func() *config.Matters { return m }, MaxBodyBytes: 4096})
	big := `{"key":"transfer","category":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name, body, ctype string
		want              int
		code, field       string
		msgHas            string
	}{
		{"unknown field", `{"key":"cancel","colour":"red"}`, "", 400, "unknown_field", "colour", "未知字段"},
		{"wrong type", `{"key":5}`, "", 400, "wrong_type", "key", "string"},
		{"wrong type bool", `{"key":"transfer","emergency":"yes"}`, "", 400, "wrong_type", "emergency", "bool"},
		{"malformed", `{"key":`, "", 400, "malformed_json", "(body)", "JSON"},
		{"syntax", `{"key" "x"}`, "", 400, "malformed_json", "(body)", "字节"},
		{"empty", ``, "", 400, "empty_body", "(body)", "请求体为空"},
		{"trailing data", `{"key":"cancel"} {"key":"keep"}`, "", 400, "malformed_json", "(body)", "多余"},
		{"not an object", `["cancel"]`, "", 400, "wrong_type", "(body)", "api.softkeyBody"},
		{"oversized", big, "", 400, "body_too_large", "(body)", "4096"},
		{"not json", `key=cancel`, "text/plain", 415, "unsupported_media_type", "(body)", "JSON"},
		{"missing key", `{"ticket_id":"GD-1"}`, "", 400, "missing_field", "key", "key"},
		{"unknown key", `{"key":"fly"}`, "", 400, "invalid_field", "key", "three-way"},
		{"transfer needs category", `{"key":"transfer"}`, "", 400, "missing_field", "category", "category"},
		{"category not in direction", `{"key":"transfer","category":"不存在的分类"}`, "", 400, "unknown_category", "category", "社会治安类/盗砸抢骗"},
		{"CRLF in ticket id", `{"key":"cancel","ticket_id":"GD-1\r\nX-Evil: 1"}`, "", 400, "invalid_field", "ticket_id", "U+000D"},
		{"overlong ticket id", `{"key":"cancel","ticket_id":"` + strings.Repeat("9", 65) + `"}`, "", 400, "invalid_field", "ticket_id", "64"},
		{"emergency needs no category", `{"key":"emergency"}`, "", 200, "", "", ""},
		{"valid transfer", `{"key":"transfer","category":"社会治安类/盗砸抢骗","ticket_id":"GD-1"}`, "", 200, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ctype != "" {
				hdr = []string{"Content-Type", tc.ctype}
			}
			a := call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent12345, tc.body, hdr...)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.want == 200 {
				return
			}
			if a.errField("code") != tc.code || a.errField("field") != tc.field {
				t.Fatalf("code %q field %q, want %q %q: %s", a.errField("code"), a.errField("field"), tc.code, tc.field, a.raw)
			}
			if !strings.Contains(a.errField("message"), tc.msgHas) {
				t.Fatalf("message %q lacks %q", a.errField("message"), tc.msgHas)
			}
		})
	}
}

func FuzzDecodeSoftkey(f *testing.F) {
	for _, s := range []string{`{"key":"cancel"}`, `{"key":5}`, `{`, ``, `{"a":1}`, `[]`, `{"key":"x"} 1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b softkeyBody
		if e := decodeBytes(data, &b); e != nil {
			if e.Status != 400 || e.Code == "" || e.Field == "" || e.Message == "" {
				t.Fatalf("incomplete error for %q: %+v", data, e)
			}
		}
	})
}
