package store

import (
	"context"
	"testing"
	"time"

	"linkctl/callflow"
)

func TestDailyStats(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.cfg(t), nil)
			defer s.Close()
			ctx := context.Background()
			oneKey := transferredCall("C-1", 1, true) // answered after 6s
			noAnswer := transferredCall("C-2", 1, true)
			noAnswer.Transfers[0].Outcome, noAnswer.Transfers[0].Answered = callflow.OutcomeNoAnswer, nil
			threeWay := transferredCall("C-3", 1, true)
			threeWay.Transfers[0].Mode, threeWay.Transfers[0].Outcome = callflow.ModeThreeWay, callflow.OutcomeKept
			threeWay.Transfers[0].Answered = tp(threeWay.Transfers[0].Requested.Add(10 * time.Second))
			back := transferredCall("C-4", 1, true)
			back.Transfers[0].Direction, back.Transfers[0].Category = callflow.Dir110To12345, "城市管理类/犬类管理"
			back.Transfers[0].Answered = tp(back.Transfers[0].Requested.Add(2 * time.Second))
			back.Transfers = append(back.Transfers, callflow.Transfer{Mode: callflow.ModeThreeWay, Direction: callflow.Dir110To12345,
				Requested: t0, Outcome: callflow.OutcomeBusy})
			yesterday := transferredCall("C-5", 1, true)
			yesterday.Started = t0.AddDate(0, 0, -1)
			for _, r := range []callflow.CallRecord{oneKey, noAnswer, threeWay, back, yesterday} {
				s.SaveCall(r)
			}
			flush(t, s)
			p, _ := s.CreatePush(ctx, Push{Direction: callflow.Dir12345To110, Category: "社会治安类/盗砸抢骗", Summary: "x"})
			s.UpdatePush(ctx, p.ID, PushUpdate{Status: PushReturned, Reason: "非警务事项"})
			s.CreatePush(ctx, Push{Direction: callflow.Dir110To12345, Category: "城市管理类/犬类管理", Summary: "y"})

			st, err := s.DailyStats(ctx, s.now())
			if err != nil {
				t.Fatal(err)
			}
			if st.Pushes["12345->110"] != 1 || st.Pushes["110->12345"] != 1 || st.BounceBacks != 1 {
				t.Fatalf("pushes %v bounce-backs %d, want 1+1 and 1", st.Pushes, st.BounceBacks)
			}
			st, err = s.DailyStats(ctx, t0.Add(5*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if st.Day != "2026-11-20" || st.Calls != 4 || st.Transfers != 5 {
				t.Fatalf("day %s calls %d transfers %d, want 2026-11-20, 4, 5", st.Day, st.Calls, st.Transfers)
			}
			if st.ByDirection["12345->110"] != 3 || st.ByDirection["110->12345"] != 2 {
				t.Fatalf("by direction %v", st.ByDirection)
			}
			if st.ByCategory["社会治安类/盗砸抢骗"] != 4 || st.ByCategory["城市管理类/犬类管理"] != 1 { // an untagged transfer counts under its call
				t.Fatalf("by category %v", st.ByCategory)
			}
			if st.ByOutcome["completed"] != 2 || st.ByOutcome["no-answer"] != 1 || st.ByOutcome["kept"] != 1 || st.ByOutcome["busy"] != 1 {
				t.Fatalf("by outcome %v", st.ByOutcome)
			}
			if st.NoAnswerFallbacks != 2 || st.ThreeWayResolutions["kept"] != 1 {
				t.Fatalf("fallbacks %d three-way %v", st.NoAnswerFallbacks, st.ThreeWayResolutions)
			}
			// Answer waits 6s, 10s, 2s: median 6s.
			if st.AnsweredTransfers != 3 || st.MedianAnswerSeconds != 6 {
				t.Fatalf("answered %d median %vs, want 3 and 6s", st.AnsweredTransfers, st.MedianAnswerSeconds)
			}
			if st.BounceBacks != 0 || len(st.Pushes) != 0 {
				t.Fatalf("pushes of another day counted: %v %d", st.Pushes, st.BounceBacks)
			}
		})
	}
}
