package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"linkctl/callflow"
)

// reach drives a new push to status via legal moves.
func reach(t *testing.T, s *Store, status PushStatus) Push {
	t.Helper()
	ctx := context.Background()
	p, err := s.CreatePush(ctx, Push{Direction: callflow.Dir12345To110, Category: "社会治安类/盗砸抢骗",
		Summary: "互联网渠道：电动车被盗", Ticket12345: "GD-1", CreatedBy: "a12345-1001"})
	if err != nil {
		t.Fatal(err)
	}
	path := map[PushStatus][]PushUpdate{
		PushPushed:   nil,
		PushAccepted: {{Status: PushAccepted}},
		PushHandled:  {{Status: PushAccepted}, {Status: PushHandled}},
		PushFedBack:  {{Status: PushAccepted}, {Status: PushHandled}, {Status: PushFedBack, Feedback: &Feedback{Result: "已立案侦查"}}},
		PushReturned: {{Status: PushReturned, Reason: "不属于公安职责"}},
	}[status]
	for _, u := range path {
		if p, err = s.UpdatePush(ctx, p.ID, u); err != nil {
			t.Fatalf("reach %v via %v: %v", status, u.Status, err)
		}
	}
	return p
}

func TestPushStateMachine(t *testing.T) {
	s := openStore(t, sqliteCfg(t), nil)
	defer s.Close()
	all := []PushStatus{PushPushed, PushAccepted, PushHandled, PushFedBack, PushReturned}
	legal := map[[2]PushStatus]bool{
		{PushPushed, PushAccepted}:   true,
		{PushPushed, PushReturned}:   true,
		{PushAccepted, PushHandled}:  true,
		{PushAccepted, PushReturned}: true,
		{PushHandled, PushFedBack}:   true,
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(from.String()+"->"+to.String(), func(t *testing.T) {
				p := reach(t, s, from)
				u := PushUpdate{Status: to, By: "a110-2001", Reason: "职责不符", Feedback: &Feedback{Result: "已处置完毕", Ticket: "JQ-77"}}
				got, err := s.UpdatePush(context.Background(), p.ID, u)
				if legal[[2]PushStatus{from, to}] {
					if err != nil {
						t.Fatalf("legal move refused: %v", err)
					}
					if got.Status != to || got.Version != p.Version+1 || len(got.History) != len(p.History)+1 {
						t.Fatalf("after move: status %v version %d history %d", got.Status, got.Version, len(got.History))
					}
					stored, _ := s.GetPush(context.Background(), p.ID)
					if stored.Status != to {
						t.Fatalf("stored status %v, want %v", stored.Status, to)
					}
					return
				}
				if !errors.Is(err, ErrIllegalTransition) {
					t.Fatalf("illegal move: err %v, want ErrIllegalTransition", err)
				}
				var te *TransitionError
				if !errors.As(err, &te) || te.To != to || (to != PushPushed && te.From != from) {
					t.Fatalf("TransitionError %+v, want from %v to %v", te, from, to)
				}
				if !strings.Contains(err.Error(), to.String()) {
					t.Fatalf("message %q does not name the target status", err)
				}
				stored, _ := s.GetPush(context.Background(), p.ID)
				if stored.Status != from || stored.Version != p.Version {
					t.Fatalf("refused move changed the push: %v v%d", stored.Status, stored.Version)
				}
			})
		}
	}
}

func TestPushFeedbackLinksOriginalTicket(t *testing.T) {
	s := openStore(t, sqliteCfg(t), nil)
	defer s.Close()
	ctx := context.Background()
	p := reach(t, s, PushHandled)
	got, err := s.UpdatePush(ctx, p.ID, PushUpdate{Status: PushFedBack, By: "a110-2001",
		Feedback: &Feedback{Result: "已抓获嫌疑人", Handler: "城东派出所", Ticket: "JQ-2026-88"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Feedback == nil || got.Feedback.OriginalTicket != "GD-1" || got.Ticket110 != "JQ-2026-88" || got.Feedback.At.IsZero() {
		t.Fatalf("feedback not linked: %+v ticket110 %q", got.Feedback, got.Ticket110)
	}
	list, err := s.ListPushes(ctx, PushFilter{Ticket: "GD-1", Status: PushFedBack})
	if err != nil || len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("list by original ticket: %v %v", list, err)
	}
}

func TestPushInputErrors(t *testing.T) {
	s := openStore(t, sqliteCfg(t), nil)
	defer s.Close()
	ctx := context.Background()
	good := Push{Direction: callflow.Dir110To12345, Category: "城市管理类/犬类管理", Summary: "犬只扰民"}
	tests := []struct {
		name  string
		edit  func(p *Push)
		field string
	}{
		{"direction", func(p *Push) { p.Direction = "110->110" }, "direction"},
		{"category", func(p *Push) { p.Category = " " }, "category"},
		{"summary", func(p *Push) { p.Summary = "" }, "summary"},
		{"summary too long", func(p *Push) { p.Summary = strings.Repeat("长", maxSummary+1) }, "summary"},
		{"attachment ref", func(p *Push) { p.Attachments = []Attachment{{Name: "照片"}} }, "attachments[0].ref"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			_, err := s.CreatePush(ctx, p)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want FieldError on %s", err, tc.field)
			}
		})
	}
	p, err := s.CreatePush(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePush(ctx, p); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	if _, err := s.UpdatePush(ctx, p.ID, PushUpdate{Status: PushReturned}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("return without reason: %v", err)
	}
	if _, err := s.UpdatePush(ctx, p.ID, PushUpdate{Status: PushAccepted}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdatePush(ctx, p.ID, PushUpdate{Status: PushFedBack}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("feedback without result: %v", err)
	}
	if _, err := s.UpdatePush(ctx, "P-none", PushUpdate{Status: PushAccepted}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown push: %v", err)
	}
	if _, err := s.GetPush(ctx, "P-none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown push: %v", err)
	}
	var st PushStatus
	if err := st.UnmarshalText([]byte("fed-back")); err != nil || st != PushFedBack {
		t.Fatalf("parse fed-back: %v %v", st, err)
	}
	if err := st.UnmarshalText([]byte("done")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("parse unknown: %v", err)
	}
}
