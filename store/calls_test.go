package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"linkctl/callflow"
)

func TestRecordsSurviveRestartAndKeepHighestVersion(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg(t)
			s := openStore(t, cfg, nil)
			ctx := context.Background()
			// The call progresses: v1, v2 written as they come, then v4 and a late v3.
			for _, v := range []int64{1, 2} {
				if err := s.SaveCall(transferredCall("C-1", v, false)); err != nil {
					t.Fatal(err)
				}
				flush(t, s)
				got, err := s.GetCall(ctx, "C-1")
				if err != nil || got.Version != v {
					t.Fatalf("after v%d: got v%d, %v", v, got.Version, err)
				}
			}
			if err := s.SaveCall(transferredCall("C-1", 4, true)); err != nil {
				t.Fatal(err)
			}
			flush(t, s)
			if err := s.SaveCall(transferredCall("C-1", 3, false)); err != nil {
				t.Fatal(err)
			}
			flush(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s2 := openStore(t, cfg, nil)
			defer s2.Close()
			got, err := s2.GetCall(ctx, "C-1")
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != 4 || got.Ended == nil || got.Outcome != "transferred" {
				t.Fatalf("after restart: version %d ended %v outcome %q, want v4 ended transferred", got.Version, got.Ended, got.Outcome)
			}
			if len(got.Legs) != 3 || got.Legs[2].Agent != "a110-2001" || got.Transfers[0].Answered == nil {
				t.Fatalf("legs/transfers lost: %+v", got)
			}
			if _, err := s2.GetCall(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing call: %v, want ErrNotFound", err)
			}
			var n int
			if err := s2.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
				t.Fatalf("schema_migrations rows = %d (%v), want %d (applied once)", n, err, len(migrations))
			}
		})
	}
}

func TestSaveCallWhileClosedOrInvalid(t *testing.T) {
	s := openStore(t, sqliteCfg(t), nil)
	if err := s.SaveCall(callflow.CallRecord{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty id: %v, want ErrInvalid", err)
	}
	s.Close()
	if err := s.SaveCall(transferredCall("C-x", 1, false)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestListCallsFilters(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.cfg(t), nil)
			defer s.Close()
			a := transferredCall("C-a", 3, true)
			bRec := transferredCall("C-b", 2, true)
			bRec.Started = t0.Add(2 * time.Hour)
			bRec.FirstPlatform, bRec.OwnerPlatform = callflow.Platform110, callflow.Platform110
			bRec.Category = "城市管理类/犬类管理"
			bRec.Transfers[0].Outcome = callflow.OutcomeNoAnswer
			bRec.Transfers[0].Category = bRec.Category
			bRec.Outcome = ""
			bRec.Legs = bRec.Legs[:1]
			bRec.Legs = append(bRec.Legs, callflow.Leg{ChannelID: "x", Role: callflow.RoleAgent110, Agent: "a110_2002", Created: t0})
			bRec.Softkeys = nil
			bRec.Transfers[0].FromAgent, bRec.Transfers[0].ToAgent = "a110_2002", ""
			c := transferredCall("C-c", 1, false)
			c.Started = t0.AddDate(0, 0, -1)
			c.Transfers = nil
			c.Legs = c.Legs[:2]
			c.Ticket110 = ""
			c.OwnerPlatform = callflow.Platform12345
			for _, r := range []callflow.CallRecord{a, bRec, c} {
				if err := s.SaveCall(r); err != nil {
					t.Fatal(err)
				}
			}
			flush(t, s)
			tests := []struct {
				name string
				f    CallFilter
				want []string
			}{
				{"all newest first", CallFilter{}, []string{"C-b", "C-a", "C-c"}},
				{"time window", CallFilter{From: t0, To: t0.Add(time.Hour)}, []string{"C-a"}},
				{"platform 110 touched", CallFilter{Platform: "110"}, []string{"C-b", "C-a"}},
				{"platform 12345 touched", CallFilter{Platform: "12345"}, []string{"C-b", "C-a", "C-c"}},
				{"agent on a leg", CallFilter{Agent: "a110-2001"}, []string{"C-a"}},
				{"agent with underscore is literal", CallFilter{Agent: "a110_2002"}, []string{"C-b"}},
				{"underscore is not a wildcard", CallFilter{Agent: "a110x2002"}, nil},
				{"ticket either side", CallFilter{Ticket: "JQ-C-a"}, []string{"C-a"}},
				{"12345 ticket", CallFilter{Ticket: "GD-C-c"}, []string{"C-c"}},
				{"outcome of call", CallFilter{Outcome: "transferred"}, []string{"C-a"}},
				{"outcome of last transfer", CallFilter{Outcome: "no-answer"}, []string{"C-b"}},
				{"category exact", CallFilter{Category: "城市管理类/犬类管理"}, []string{"C-b"}},
				{"category by 大类", CallFilter{Category: "社会治安类"}, []string{"C-a", "C-c"}},
				{"limit", CallFilter{Limit: 1}, []string{"C-b"}},
				{"no match", CallFilter{Ticket: "none"}, nil},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					got, err := s.ListCalls(context.Background(), tc.f)
					if err != nil {
						t.Fatal(err)
					}
					var ids []string
					for _, r := range got {
						ids = append(ids, r.ID)
					}
					if len(ids) != len(tc.want) {
						t.Fatalf("got %v, want %v", ids, tc.want)
					}
					for i := range ids {
						if ids[i] != tc.want[i] {
							t.Fatalf("got %v, want %v", ids, tc.want)
						}
					}
				})
			}
		})
	}
}

func TestSubscribeSlowReaderNeverBlocks(t *testing.T) {
	s := openStore(t, sqliteCfg(t), nil)
	defer s.Close()
	slow, cancelSlow := s.Subscribe() // never read
	defer cancelSlow()
	fast, cancelFast := s.Subscribe()
	got := make(chan int64, 1000)
	go func() {
		for r := range fast {
			got <- r.Version
		}
		close(got)
	}()
	done := make(chan struct{})
	go func() {
		for v := int64(1); v <= 500; v++ {
			s.SaveCall(transferredCall("C-live", v, v == 500))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("SaveCall blocked behind a subscriber that does not read")
	}
	if n := len(slow); n != cap(slow) {
		t.Fatalf("slow reader holds %d records, want its full buffer of %d (the rest dropped)", n, cap(slow))
	}
	// Once the storm is over, a reader that keeps up sees the next version.
	for len(fast) > 0 {
		time.Sleep(time.Millisecond)
	}
	s.SaveCall(transferredCall("C-live", 501, true))
	deadline := time.After(5 * time.Second)
	for {
		select {
		case v := <-got:
			if v == 501 {
				cancelFast()
				return
			}
		case <-deadline:
			t.Fatal("fast reader never saw the final version")
		}
	}
}
