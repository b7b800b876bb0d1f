package store

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"linkctl/callflow"
	"linkctl/config"
)

func testPolicy() *Policy {
	c := config.Default().Store.Confidentiality
	c.RestrictedCategories = []string{"涉密事项", "社会治安类/黄赌毒黑"}
	return NewPolicy(c)
}

// secrets are values of a restricted record that must never reach 12345.
var secrets = []string{"13800000001", "JQ-", "a110-2001", "社会治安类", "涉案", "PJSIP/"}

func keys(d Document) []string {
	var out []string
	for k := range d {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// assertRedacted checks that a 12345-bound object has only allowed keys and
// that no restricted value appears anywhere in the raw JSON.
func assertRedacted(t *testing.T, raw []byte, obj Document, allowed []string) {
	t.Helper()
	ok := map[string]bool{}
	for _, k := range allowed {
		ok[k] = true
	}
	for k := range obj {
		if !ok[k] {
			t.Errorf("field %q present for 12345; allowed %v", k, allowed)
		}
	}
	for _, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("restricted value %q leaked to 12345: %s", s, raw)
		}
	}
	for _, absent := range []string{`"caller_number"`, `"legs"`, `"ticket_110"`, `"category"`, `"inbound_headers"`, `"summary"`, `"contact"`, `"feedback"`, `"flags"`} {
		if strings.Contains(string(raw), absent) {
			t.Errorf("key %s must be absent (not blank) for 12345: %s", absent, raw)
		}
	}
}

func TestRedactFor(t *testing.T) {
	pol := testPolicy()
	allowedRec := config.Default().Store.Confidentiality.RecordFields12345
	allowedPush := config.Default().Store.Confidentiality.PushFields12345
	confidential := transferredCall("C-1", 1, true)
	confidential.Confidential = true
	byCategory := transferredCall("C-2", 1, true)
	byCategory.Category, byCategory.Transfers[0].Category = "社会治安类/黄赌毒黑", "社会治安类/黄赌毒黑"
	byTransferCategory := transferredCall("C-3", 1, true)
	byTransferCategory.Category, byTransferCategory.Transfers[0].Category = "", "涉密事项/其他"
	byFlag := transferredCall("C-4", 1, true)
	byFlag.InboundHeaders[FlagsHeader] = "涉案， 涉稳"
	open := transferredCall("C-5", 1, true)
	push := Push{ID: "P-1", Direction: callflow.Dir110To12345, Category: "城市管理类/犬类管理", Flags: []string{"涉案"},
		Summary: "嫌疑人 a110-2001 线索", Contact: Contact{Name: "张三", Phone: "13800000001"}, Ticket110: "JQ-5", Ticket12345: "GD-5",
		Status: PushPushed, Created: t0, Updated: t0, Version: 1}
	openPush := push
	openPush.Flags = nil
	tests := []struct {
		name       string
		v          any
		restricted bool
		allowed    []string
	}{
		{"confidential record", confidential, true, allowedRec},
		{"record pointer", &confidential, true, allowedRec},
		{"restricted category", byCategory, true, allowedRec},
		{"restricted 大类 on a transfer", byTransferCategory, true, allowedRec},
		{"restricted flag header", byFlag, true, allowedRec},
		{"open record", open, false, nil},
		{"flagged push", push, true, allowedPush},
		{"push pointer", &push, true, allowedPush},
		{"open push", openPush, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full, _ := json.Marshal(tc.v)
			var fullDoc Document
			json.Unmarshal(full, &fullDoc)
			d110, err := pol.RedactFor(callflow.Platform110, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if len(d110) != len(fullDoc) {
				t.Fatalf("110 side got %v, want every field %v", keys(d110), keys(fullDoc))
			}
			d, err := pol.RedactFor(callflow.Platform12345, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(d)
			if !tc.restricted {
				if len(d) != len(fullDoc) {
					t.Fatalf("open item lost fields for 12345: %v", keys(d))
				}
				return
			}
			assertRedacted(t, raw, d, tc.allowed)
			if _, ok := d["id"]; !ok {
				t.Fatal("id must stay so that 12345 can match its ticket")
			}
		})
	}
	if _, err := pol.RedactFor(callflow.Platform12345, "text"); err == nil {
		t.Fatal("unsupported type accepted")
	}
}

// twoSinks opens a store delivering to a 12345 and a 110 ticket system.
func twoSinks(t *testing.T) (*Store, *ticketSink, *ticketSink) {
	s12345, srv12345 := newTicketSink(t, "k12345", faultNone, 0)
	s110, srv110 := newTicketSink(t, "k110", faultNone, 0)
	cfg := sqliteCfg(t)
	cfg.Confidentiality.RestrictedCategories = []string{"社会治安类/黄赌毒黑"}
	cfg.TicketSystems = []config.TicketSystemConfig{
		sinkCfg("12345", srv12345.URL, "k12345", time.Second),
		sinkCfg("110", srv110.URL, "k110", time.Second),
	}
	return openStore(t, cfg, nil), s12345, s110
}

func bodyOf(t *testing.T, k *ticketSink, key string) ([]byte, Envelope) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		k.mu.Lock()
		b, ok := k.bodies[key]
		env := k.docs[key]
		k.mu.Unlock()
		if ok {
			return []byte(b), env
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("sink never received %s", key)
	return nil, Envelope{}
}

func TestRedactionOnRecordDelivery(t *testing.T) {
	s, k12345, k110 := twoSinks(t)
	defer s.Close()
	rec := transferredCall("C-1", 3, true)
	rec.Category, rec.Transfers[0].Category = "社会治安类/黄赌毒黑", "社会治安类/黄赌毒黑"
	rec.InboundHeaders[FlagsHeader] = "涉案"
	s.SaveCall(rec)
	key := CallIdempotencyKey("C-1", 3)
	raw, env := bodyOf(t, k12345, key)
	assertRedacted(t, raw, env.Call, config.Default().Store.Confidentiality.RecordFields12345)
	if string(env.Call["ticket_12345"]) != `"GD-C-1"` || string(env.Call["outcome"]) != `"transferred"` {
		t.Fatalf("12345 lost what it may see: %s", raw)
	}
	_, full := bodyOf(t, k110, key)
	if string(full.Call["caller_number"]) != `"13800000001"` || len(full.Call["legs"]) < 10 {
		t.Fatalf("110 got a redacted record: %v", keys(full.Call))
	}

	// A restricted call the 12345 side never touched is not sent there at all.
	only110 := transferredCall("C-2", 1, true)
	only110.FirstPlatform, only110.Ticket12345, only110.Confidential = callflow.Platform110, "", true
	only110.Legs = []callflow.Leg{only110.Legs[0], only110.Legs[2]}
	s.SaveCall(only110)
	bodyOf(t, k110, CallIdempotencyKey("C-2", 1))
	ds, _ := s.Deliveries(context.Background(), "call", "C-2")
	if len(ds) != 1 || ds[0].System != "110" {
		t.Fatalf("deliveries of a 110-only restricted call: %+v, want 110 only", ds)
	}
}

func TestRedactionOnPushAndFeedback(t *testing.T) {
	s, k12345, k110 := twoSinks(t)
	defer s.Close()
	ctx := context.Background()
	allowed := config.Default().Store.Confidentiality.PushFields12345

	// A flagged push from 110 reaches 12345 with the allowed fields only.
	p, err := s.CreatePush(ctx, Push{Direction: callflow.Dir110To12345, Category: "城市管理类/犬类管理", Flags: []string{"涉案"},
		Summary: "线索：a110-2001 报", Contact: Contact{Phone: "13800000001"}, Ticket110: "JQ-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Restricted {
		t.Fatal("flagged push not marked restricted")
	}
	raw, env := bodyOf(t, k12345, PushIdempotencyKey(p.ID, 1))
	assertRedacted(t, raw, env.Push, allowed)
	if env.Event != "push.created" || string(env.Push["status"]) != `"pushed"` {
		t.Fatalf("12345 push document: %s", raw)
	}
	if _, full := bodyOf(t, k110, PushIdempotencyKey(p.ID, 1)); string(full.Push["summary"]) == "" {
		t.Fatalf("110 lost the summary: %v", keys(full.Push))
	}

	// An open 12345->110 push becomes restricted when 110 flags it in the
	// feedback: the feedback reaching 12345 carries no result, no flags.
	q, err := s.CreatePush(ctx, Push{Direction: callflow.Dir12345To110, Category: "社会治安类/盗砸抢骗",
		Summary: "网上举报：车辆被砸", Ticket12345: "GD-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, env := bodyOf(t, k12345, PushIdempotencyKey(q.ID, 1)); string(env.Push["summary"]) == "" {
		t.Fatal("open push reached 12345 redacted")
	}
	s.UpdatePush(ctx, q.ID, PushUpdate{Status: PushAccepted, Ticket: "JQ-2"})
	s.UpdatePush(ctx, q.ID, PushUpdate{Status: PushHandled})
	q, err = s.UpdatePush(ctx, q.ID, PushUpdate{Status: PushFedBack, Flags: []string{"涉案"},
		Feedback: &Feedback{Result: "已并案侦查，嫌疑人 a110-2001 在逃", Ticket: "JQ-2"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, env = bodyOf(t, k12345, PushIdempotencyKey(q.ID, int(q.Version)))
	if env.Event != "push.feedback" || string(env.Push["status"]) != `"fed-back"` || string(env.Push["ticket_12345"]) != `"GD-2"` {
		t.Fatalf("12345 feedback document: %s", raw)
	}
	assertRedacted(t, raw, env.Push, allowed)
	_, full := bodyOf(t, k110, PushIdempotencyKey(q.ID, int(q.Version)))
	var fb Feedback
	if err := json.Unmarshal(full.Push["feedback"], &fb); err != nil || fb.OriginalTicket != "GD-2" {
		t.Fatalf("110 feedback document lacks the linked result: %s (%v)", full.Push["feedback"], err)
	}

	// The API's read path uses the same function.
	d, _ := s.RedactFor(callflow.Platform12345, q)
	b, _ := json.Marshal(d)
	assertRedacted(t, b, d, allowed)
}

// FuzzRedactFor: whatever a record carries, a restricted one reaches 12345
// with allowed fields only, and the 110 side always gets every field.
func FuzzRedactFor(f *testing.F) {
	f.Add("社会治安类/黄赌毒黑", "", false, "13800000001")
	f.Add("城市管理类/犬类管理", "涉案", false, "")
	f.Add("", "涉密,涉稳", true, "x")
	f.Add("涉密事项", "；,", false, "\x00")
	pol := testPolicy()
	allowed := map[string]bool{}
	for _, k := range config.Default().Store.Confidentiality.RecordFields12345 {
		allowed[k] = true
	}
	f.Fuzz(func(t *testing.T, category, flags string, confidential bool, caller string) {
		rec := transferredCall("C-f", 1, true)
		rec.Category, rec.Confidential, rec.CallerNumber = category, confidential, caller
		rec.InboundHeaders[FlagsHeader] = flags
		d110, err := pol.RedactFor(callflow.Platform110, rec)
		if err != nil {
			t.Fatal(err)
		}
		d, err := pol.RedactFor(callflow.Platform12345, rec)
		if err != nil {
			t.Fatal(err)
		}
		if !pol.RecordRestricted(rec) {
			if len(d) != len(d110) {
				t.Fatalf("open record redacted: %v", keys(d))
			}
			return
		}
		for k := range d {
			if !allowed[k] {
				t.Fatalf("restricted record: field %q reached 12345", k)
			}
		}
		if _, ok := d["caller_number"]; ok {
			t.Fatal("caller number reached 12345")
		}
	})
}
