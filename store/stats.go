package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"linkctl/callflow"
)

// DailyStats are the supervisors' figures for one day.
type DailyStats struct {
	Day       string `json:"day"` // YYYY-MM-DD in the location of the asked time
	Calls     int    `json:"calls"`
	Transfers int    `json:"transfers"`
	// ByDirection / ByCategory / ByOutcome / ByMode count transfers.
	ByDirection map[string]int `json:"by_direction"`
	ByCategory  map[string]int `json:"by_category"`
	ByOutcome   map[string]int `json:"by_outcome"`
	ByMode      map[string]int `json:"by_mode"`
	// NoAnswerFallbacks: transfers that came back to the first agent because the
	// other side did not answer, was busy or unavailable.
	NoAnswerFallbacks int `json:"no_answer_fallbacks"`
	// ThreeWayResolutions counts three-way calls by resolution (handed-over, kept, undetermined).
	ThreeWayResolutions map[string]int `json:"three_way_resolutions"`
	// Pushes counts system pushes created that day, by direction.
	Pushes map[string]int `json:"pushes"`
	// BounceBacks (回流): pushes returned that day.
	BounceBacks int `json:"bounce_backs"`
	// MedianAnswerSeconds: median time from a transfer request to the other
	// side answering, over AnsweredTransfers transfers (0 when none).
	MedianAnswerSeconds float64 `json:"median_answer_seconds"`
	AnsweredTransfers   int     `json:"answered_transfers"`
	// RestrictedTransfers (only in a 12345-side reader's figures): transfers of
	// restricted calls. They count in Calls and Transfers but in no breakdown
	// (direction, category, outcome, mode, fallbacks, three-way, answer time),
	// so the figures reveal nothing of them the redacted record hides.
	RestrictedTransfers int `json:"restricted_transfers,omitempty"`
}

// DailyStats computes the figures of the calendar day containing day (in day's
// location), complete: for the 110 side and unrestricted readers.
func (s *Store) DailyStats(ctx context.Context, day time.Time) (DailyStats, error) {
	return s.DailyStatsFor(ctx, day, callflow.Platform110)
}

// DailyStatsFor computes the day's figures as reader may see them: for
// callflow.Platform12345, calls under restricted knowledge (Policy.RecordRestricted)
// count only in the Calls and Transfers totals and in RestrictedTransfers.
func (s *Store) DailyStatsFor(ctx context.Context, day time.Time, reader callflow.Platform) (DailyStats, error) {
	y, m, d := day.Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, day.Location())
	to := from.AddDate(0, 0, 1)
	st := DailyStats{
		Day:                 from.Format("2006-01-02"),
		ByDirection:         map[string]int{},
		ByCategory:          map[string]int{},
		ByOutcome:           map[string]int{},
		ByMode:              map[string]int{},
		ThreeWayResolutions: map[string]int{},
		Pushes:              map[string]int{},
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT doc FROM calls WHERE started_ms >= ? AND started_ms < ?`),
		from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return st, fmt.Errorf("daily stats %s: %w", st.Day, err)
	}
	var waits []time.Duration
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			rows.Close()
			return st, fmt.Errorf("daily stats %s: %w", st.Day, err)
		}
		var rec callflow.CallRecord
		if err := json.Unmarshal([]byte(doc), &rec); err != nil {
			rows.Close()
			return st, fmt.Errorf("daily stats %s: decode call: %w", st.Day, err)
		}
		st.Calls++
		if reader == callflow.Platform12345 && s.policy.RecordRestricted(rec) {
			st.Transfers += len(rec.Transfers)
			st.RestrictedTransfers += len(rec.Transfers)
			continue
		}
		for _, t := range rec.Transfers {
			st.Transfers++
			st.ByDirection[string(t.Direction)]++
			cat := t.Category
			if cat == "" {
				cat = rec.Category
			}
			if cat == "" {
				cat = "(未分类)"
			}
			st.ByCategory[cat]++
			out := string(t.Outcome)
			if out == "" {
				out = "pending"
			}
			st.ByOutcome[out]++
			st.ByMode[string(t.Mode)]++
			switch t.Outcome {
			case callflow.OutcomeNoAnswer, callflow.OutcomeBusy, callflow.OutcomeUnavailable:
				st.NoAnswerFallbacks++
			case callflow.OutcomeHandedOver, callflow.OutcomeKept, callflow.OutcomeUndetermined:
				if t.Mode == callflow.ModeThreeWay {
					st.ThreeWayResolutions[string(t.Outcome)]++
				}
			}
			if t.Answered != nil && !t.Answered.Before(t.Requested) {
				waits = append(waits, t.Answered.Sub(t.Requested))
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("daily stats %s: %w", st.Day, err)
	}
	st.AnsweredTransfers = len(waits)
	st.MedianAnswerSeconds = median(waits).Seconds()

	prow, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT direction, COUNT(*) FROM pushes
		WHERE created_ms >= ? AND created_ms < ? GROUP BY direction`), from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return st, fmt.Errorf("daily stats %s: pushes: %w", st.Day, err)
	}
	for prow.Next() {
		var dir string
		var n int
		if err := prow.Scan(&dir, &n); err != nil {
			prow.Close()
			return st, fmt.Errorf("daily stats %s: pushes: %w", st.Day, err)
		}
		st.Pushes[dir] = n
	}
	prow.Close()
	// Returned is terminal, so the last update of a returned push is its return.
	if err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM pushes
		WHERE status = ? AND updated_ms >= ? AND updated_ms < ?`),
		PushReturned.String(), from.UnixMilli(), to.UnixMilli()).Scan(&st.BounceBacks); err != nil {
		return st, fmt.Errorf("daily stats %s: bounce-backs: %w", st.Day, err)
	}
	return st, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}
