package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/config"
)

func (s *server) healthz(w http.ResponseWriter, _ *http.Request, _ Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every readiness check in parallel, each under its own deadline.
func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ Principal) {
	checks := slices.Clone(s.opt.Ready)
	hasStore := slices.ContainsFunc(checks, func(c ReadyCheck) bool { return c.Name == "store" })
	if s.opt.Store != nil && !hasStore {
		checks = append(checks, ReadyCheck{Name: "store", Check: s.opt.Store.Healthy})
	}
	results := make(map[string]string, len(checks))
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		ready = true
	)
	for _, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), s.opt.ReadyTimeout)
			defer cancel()
			err := c.Check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ready = false
				results[c.Name] = err.Error()
				return
			}
			results[c.Name] = "ok"
		})
	}
	wg.Wait()
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
		s.log.Warn("not ready", zap.Any("checks", results))
	}
	writeJSON(w, status, map[string]any{"ready": ready, "checks": results})
}

// reload re-reads the matters list and hands it to the controller.
func (s *server) reload(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.opt.Reload == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "未配置重新加载", "reload is not wired", ""))
		return
	}
	m, err := s.opt.Reload(r.Context())
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			e := newError(http.StatusBadRequest, "invalid_config", "配置有误，未重新加载", ps.Error(), "")
			if len(ps) > 0 {
				e.Field = ps[0].Key
			}
			writeError(w, e)
			return
		}
		s.fail(w, r, fmt.Errorf("reload: %w", err))
		return
	}
	if m == nil {
		s.fail(w, r, errors.New("reload returned no matters list"))
		return
	}
	if s.opt.Controller != nil {
		s.opt.Controller.ReloadMatters(m)
	}
	s.log.Info("matters list reloaded", zap.String("source", m.Source), zap.Int("rows", len(m.Rows)), zap.String("token", p.Name))
	writeJSON(w, http.StatusOK, map[string]any{"reloaded": true, "source": m.Source, "rows": m.Count()})
}

type matterJSON struct {
	Name        string `json:"name"`
	Category    string `json:"category"`
	Subcategory string `json:"subcategory"`
	Description string `json:"description,omitempty"`
}

func (s *server) matters(w http.ResponseWriter, r *http.Request, _ Principal) {
	var m *config.Matters
	if s.opt.Matters != nil {
		m = s.opt.Matters()
	}
	if m == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "转办事项清单未加载", "matters list not loaded", ""))
		return
	}
	dir := r.URL.Query().Get("direction")
	if dir != "" && !slices.Contains(directions, dir) {
		writeError(w, invalidField("direction", "应为 12345->110 或 110->12345", "want 12345->110 or 110->12345"))
		return
	}
	out := map[string][]matterJSON{}
	for _, d := range directions {
		if dir != "" && d != dir {
			continue
		}
		out[d] = []matterJSON{}
	}
	for _, row := range m.Rows {
		if _, ok := out[row.Direction]; ok {
			out[row.Direction] = append(out[row.Direction], matterJSON{row.Name(), row.Category, row.Subcategory, row.Description})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"source": m.Source, "directions": out})
}

// dailyStats answers the day's figures; a 12345-side reader gets them without
// the breakdowns of restricted calls (see store.DailyStats.RestrictedTransfers).
func (s *server) dailyStats(w http.ResponseWriter, r *http.Request, p Principal) {
	day := s.opt.Now()
	if v := r.URL.Query().Get("date"); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, time.Local)
		if err != nil {
			writeError(w, invalidField("date", "日期格式应为 YYYY-MM-DD", "want YYYY-MM-DD, got "+v))
			return
		}
		day = t
	}
	if s.opt.Store == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "存储未就绪", "no store", ""))
		return
	}
	reader := callflow.Platform110
	if p.Platform == string(callflow.Platform12345) {
		reader = callflow.Platform12345
	}
	st, err := s.opt.Store.DailyStatsFor(r.Context(), day, reader)
	if err != nil {
		s.fail(w, r, fmt.Errorf("daily stats %s: %w", day.Format(time.DateOnly), err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}
