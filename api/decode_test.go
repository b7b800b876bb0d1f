package api

import (
	"fmt"
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
		{"not an object", `["cancel"]`, "", 400, "wrong_type", "(body)", `请求体应为 JSON 对象 {"key", "ticket_id", "category", "emergency", "channel_id", "agent"}，实际为 数组`},
		{"string not a number", `{"key":"cancel","emergency":1}`, "", 400, "wrong_type", "emergency", "应为布尔值（true/false），实际为数字"},
		{"duplicate key", `{"key":"cancel","ticket_id":"GD-1","key":"transfer"}`, "", 400, "duplicate_field", "key", "字段 key 重复出现"},
		{"duplicate key, different spacing", "{\"agent\" : \"a\",\n \"agent\":\"b\",\"key\":\"cancel\"}", "", 400, "duplicate_field", "agent", "重复"},
		{"invalid UTF-8 in a value", "{\"key\":\"cancel\",\"ticket_id\":\"GD-\xff\xfe1\"}", "", 400, "invalid_utf8", "ticket_id", "UTF-8"},
		{"invalid UTF-8 in a key", "{\"key\":\"cancel\",\"ti\xc3\":\"x\"}", "", 400, "invalid_utf8", "(body)", "UTF-8"},
		{"valid multibyte text", `{"key":"transfer","category":"社会治安类/盗砸抢骗","ticket_id":"工单-1"}`, "", 200, "", "", ""},
		{"oversized", big, "", 400, "body_too_large", "(body)", "4096"},
		{"not json", `key=cancel`, "text/plain", 415, "unsupported_media_type", "(body)", "JSON"},
		{"missing key", `{"ticket_id":"GD-1"}`, "", 400, "missing_field", "key", "key"},
		{"unknown key", `{"key":"fly"}`, "", 400, "invalid_field", "key", "three-way"},
		{"transfer needs category", `{"key":"transfer"}`, "", 400, "missing_field", "category", "category"},
		{"category not in direction", `{"key":"transfer","category":"不存在的分类"}`, "", 400, "unknown_category", "category", "不在 12345->110 转办事项清单中，共"},
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
			if strings.Contains(a.errField("message"), "api.") {
				t.Fatalf("message names a Go type: %q", a.errField("message"))
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

// The unknown-category answer is short; the list travels in error.valid.
func TestUnknownCategoryListsValidSeparately(t *testing.T) {
	ctl := newFakeController(sampleCall("c1", t0))
	m := mustMatters(t)
	srv := testServer(t, Options{Controller: ctl, Matters: func() *config.Matters { return m }})
	a := call(t, srv, "POST", "/v1/calls/c1/softkeys", tokAgent12345, `{"key":"transfer","category":"不存在的分类"}`)
	if a.status != 400 || a.errField("code") != "unknown_category" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	want := m.Names("12345->110")
	e, _ := a.body["error"].(map[string]any)
	got, _ := e["valid"].([]any)
	if len(got) != len(want) || len(want) < 10 {
		t.Fatalf("valid has %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("valid[%d] = %v, want %s", i, got[i], want[i])
		}
	}
	msg := a.errField("message")
	if strings.Contains(msg, want[0]) || strings.Contains(msg, want[len(want)-1]) || len(msg) > 300 {
		t.Fatalf("message still carries the list (%d bytes): %s", len(msg), msg)
	}
	if !strings.Contains(msg, fmt.Sprintf("共 %d 项，见 valid", len(want))) {
		t.Fatalf("message %q does not point at valid", msg)
	}
}

func TestCheckKeysAndTextPaths(t *testing.T) {
	tests := []struct {
		body, code, field string
	}{
		{`{"a":{"b":1,"b":2}}`, "duplicate_field", "a.b"},
		{`{"a":[{"x":1},{"x":1,"x":2}]}`, "duplicate_field", "a[1].x"},
		{`{"a":{"b":1},"c":{"b":1}}`, "", ""}, // same key in two objects is fine
		{"{\"a\":[\"ok\",\"\xff\"]}", "invalid_utf8", "a[1]"},
		{"{\"a\":{\"b\":\"\xe4\xb8\"}}", "invalid_utf8", "a.b"},
		{`{"a":"x\ud800y"}`, "invalid_utf8", "a"},  // lone high surrogate
		{`{"a":"\udc00"}`, "invalid_utf8", "a"},    // lone low surrogate
		{`{"a":"\ud83d\ude00 ok"}`, "", ""},        // a pair is one character
		{`{"a":"\ufffd \\ud800 literal"}`, "", ""}, // U+FFFD itself and an escaped backslash
		{`{"a":1,"a"`, "duplicate_field", "a"},     // caught before the syntax error
		{`{"a":`, "", ""},                          // syntax errors are left to the decoder
	}
	for _, tc := range tests {
		e := checkKeysAndText([]byte(tc.body))
		switch {
		case tc.code == "" && e != nil:
			t.Errorf("%q: unexpected %v", tc.body, e)
		case tc.code != "" && (e == nil || e.Code != tc.code || e.Field != tc.field):
			t.Errorf("%q: got %+v, want %s at %s", tc.body, e, tc.code, tc.field)
		}
	}
}
