package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/store"
)

// softkeyNames lists the softkeys accepted over HTTP (the DTMF feature codes' commands).
func softkeyNames() []string {
	out := make([]string, len(callflow.Keys))
	for i, k := range callflow.Keys {
		out[i] = string(k)
	}
	return out
}

type softkeyBody struct {
	Key       string `json:"key"`
	TicketID  string `json:"ticket_id"`
	Category  string `json:"category"`
	Emergency bool   `json:"emergency"`
	ChannelID string `json:"channel_id"`
	Agent     string `json:"agent"`
}

type softkeyAnswer struct {
	Accepted   bool   `json:"accepted"`
	Reason     string `json:"reason,omitempty"`
	CallID     string `json:"call_id"`
	TransferID string `json:"transfer_id,omitempty"`
	Duplicate  bool   `json:"duplicate,omitempty"`
	State      string `json:"state,omitempty"`
}

func (s *server) softkey(w http.ResponseWriter, r *http.Request, p Principal) {
	callID := r.PathValue("id")
	var b softkeyBody
	if e := decodeJSON(w, r, s.opt.MaxBodyBytes, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.Key == "" {
		writeError(w, requiredError("key"))
		return
	}
	if names := softkeyNames(); !slices.Contains(names, b.Key) {
		writeError(w, invalidField("key", "未知软按键 "+strconv.Quote(b.Key)+"，可用："+strings.Join(names, ", "),
			"unknown softkey "+strconv.Quote(b.Key)+"; valid: "+strings.Join(names, ", ")))
		return
	}
	if e := checkText(textField{"ticket_id", b.TicketID, 64, false}, textField{"category", b.Category, 128, false},
		textField{"agent", b.Agent, 128, false}, textField{"channel_id", b.ChannelID, 128, false}); e != nil {
		writeError(w, e)
		return
	}
	if b.Key == string(callflow.KeyEmergency) {
		b.Emergency = true
	}
	agent := b.Agent
	if p.Role == RoleAgent {
		if b.Agent != "" && b.Agent != p.Agent {
			writeError(w, newError(http.StatusForbidden, "forbidden", "令牌只能代表坐席 "+p.Agent+" 操作",
				"this token speaks for agent "+p.Agent+" only", "agent"))
			return
		}
		agent = p.Agent
	} else if agent == "" && b.ChannelID == "" {
		writeError(w, requiredError("agent"))
		return
	}
	if s.opt.Controller == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "呼叫控制器未就绪", "controller not available", ""))
		return
	}
	rec, ok := s.opt.Controller.Call(callID)
	if !ok {
		writeError(w, newError(http.StatusNotFound, "not_found", "通话不存在或已结束", "no live call "+callID, ""))
		return
	}
	leg, isLeg := agentLeg(rec, agent, b.ChannelID)
	if p.Role == RoleAgent && !isLeg {
		writeError(w, newError(http.StatusForbidden, "forbidden", "坐席 "+agent+" 不在该通话中，不能操作软按键",
			"agent "+agent+" is not a leg of call "+callID, ""))
		return
	}
	if isLeg && agent == "" {
		agent = leg.Agent
		if agent == "" {
			agent = leg.Endpoint
		}
	}
	if e := s.checkCategory(b, leg, isLeg); e != nil {
		writeError(w, e)
		return
	}
	// The controller decides who may act (it knows which legs are connected now): the
	// request names the agent, and the channel only when the desk sent one.
	req := callflow.SoftkeyRequest{CallID: callID, ChannelID: b.ChannelID, Agent: agent, Key: callflow.Key(b.Key),
		TicketID: b.TicketID, Category: b.Category, Emergency: b.Emergency, Source: callflow.SourceHTTP}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.SoftkeyTimeout)
	defer cancel()
	res, err := s.opt.Controller.Softkey(ctx, req)
	if errors.Is(err, callflow.ErrNotConnected) {
		s.log.Warn("softkey refused: agent not connected", zap.String("call_id", callID), zap.String("channel_id", req.ChannelID),
			zap.String("agent", agent), zap.String("key", b.Key), zap.String("token", p.Name), zap.Error(err))
		zh := res.Reason
		if zh == "" {
			zh = "坐席 " + agent + " 未与市民通话，不能操作该通话"
		}
		writeError(w, newError(http.StatusForbidden, "not_connected", zh, "agent "+agent+" is not connected with the citizen of call "+callID, ""))
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("softkey %s on call %s: %w", b.Key, callID, err), zap.String("call_id", callID), zap.String("agent", agent))
		return
	}
	ans := softkeyAnswer{Accepted: res.Accepted, Reason: res.Reason, CallID: callID, TransferID: res.TransferID, Duplicate: res.Duplicate, State: res.State}
	if res.CallID != "" {
		ans.CallID = res.CallID
	}
	s.log.Info("softkey", zap.String("call_id", callID), zap.String("channel_id", req.ChannelID), zap.String("agent", agent),
		zap.String("key", b.Key), zap.String("ticket_id", b.TicketID), zap.Bool("accepted", res.Accepted), zap.String("token", p.Name))
	if !res.Accepted {
		e := &apiError{Status: http.StatusConflict, Code: "softkey_refused", Message: res.Reason + " / softkey refused"}
		writeJSON(w, http.StatusConflict, map[string]any{"error": e, "result": ans})
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// checkCategory refuses, before the controller sees it, a category that is not in
// the matters list for the direction of the pressing agent's platform.
func (s *server) checkCategory(b softkeyBody, leg callflow.Leg, isLeg bool) *apiError {
	needs := (b.Key == string(callflow.KeyTransfer) || b.Key == string(callflow.KeyThreeWay)) && !b.Emergency
	if b.Category == "" {
		if needs {
			return requiredError("category")
		}
		return nil
	}
	if s.opt.Matters == nil || !isLeg || b.Emergency {
		return nil
	}
	m := s.opt.Matters()
	if m == nil {
		return nil
	}
	var dir callflow.Direction
	switch leg.Role {
	case callflow.RoleAgent12345:
		dir = callflow.Dir12345To110
	case callflow.RoleAgent110:
		dir = callflow.Dir110To12345
	default:
		return nil
	}
	if _, err := m.Lookup(string(dir), b.Category); err != nil {
		return unknownCategory(b.Category, string(dir), m.Names(string(dir)))
	}
	return nil
}

// agentLeg finds the agent leg of rec that agent (id or endpoint) or channelID names,
// preferring a leg that answered and is still up. Any leg, even one that only rang,
// counts: it says an agent took part (read access, filters, the matters direction),
// never that the agent may act; the controller decides that.
func agentLeg(rec callflow.CallRecord, agent, channelID string) (callflow.Leg, bool) {
	var found callflow.Leg
	ok := false
	for _, l := range rec.Legs {
		if l.Role == callflow.RoleCitizen {
			continue
		}
		if channelID != "" && l.ChannelID != channelID {
			continue
		}
		if agent == "" || sameAgent(l, agent) {
			if l.Answered != nil && l.HungUp == nil {
				return l, true
			}
			if !ok {
				found, ok = l, true
			}
		}
	}
	return found, ok
}

// sameAgent matches an agent id against a leg's agent or endpoint ("PJSIP/a110-2001"
// matches "a110-2001").
func sameAgent(l callflow.Leg, agent string) bool {
	if agent == "" {
		return false
	}
	if l.Agent == agent || l.Endpoint == agent {
		return true
	}
	if i := strings.LastIndexByte(l.Endpoint, '/'); i >= 0 && l.Endpoint[i+1:] == agent {
		return true
	}
	return false
}

// visible returns what principal p may see of rec: 12345-side readers get the
// redacted document (restricted fields absent; without a redactor, restricted
// records are not shown at all); agents see only calls they are a leg of.
func (s *server) visible(p Principal, rec callflow.CallRecord) (any, bool, error) {
	if p.Role == RoleAgent {
		if _, ok := agentLeg(rec, p.Agent, ""); !ok {
			return nil, false, nil
		}
	}
	if p.Platform == string(callflow.Platform12345) {
		if s.opt.Redact != nil {
			doc, err := s.opt.Redact(callflow.Platform12345, rec)
			if err != nil {
				return nil, false, fmt.Errorf("redact call %s: %w", rec.ID, err)
			}
			return doc, true, nil
		}
		if rec.Confidential {
			return nil, false, nil
		}
	}
	return rec, true, nil
}

var callQueryKeys = []string{"from", "to", "platform", "agent", "ticket", "outcome", "category", "limit"}

const maxListLimit = 1000

func parseCallFilter(r *http.Request) (store.CallFilter, *apiError) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(callQueryKeys, k) && k != "access_token" {
			return store.CallFilter{}, newError(http.StatusBadRequest, "unknown_parameter",
				"未知查询参数 "+strconv.Quote(k)+"，可用："+strings.Join(callQueryKeys, ", "),
				"unknown query parameter "+strconv.Quote(k), k)
		}
	}
	f := store.CallFilter{Platform: q.Get("platform"), Agent: q.Get("agent"), Ticket: q.Get("ticket"),
		Outcome: q.Get("outcome"), Category: q.Get("category"), Limit: 100}
	for _, k := range []string{"from", "to"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		if err != nil {
			return f, invalidField(k, "时间格式应为 RFC 3339（如 2026-12-03T08:00:00+08:00）或日期 2026-12-03",
				"want RFC 3339 time or YYYY-MM-DD, got "+strconv.Quote(v))
		}
		if k == "from" {
			f.From = t
		} else {
			f.To = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, invalidField("to", "结束时间早于开始时间", "to is before from")
	}
	switch f.Platform {
	case "", "12345", "110":
	default:
		return f, invalidField("platform", "平台应为 12345 或 110", "want 12345 or 110, got "+strconv.Quote(f.Platform))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return f, invalidField("limit", fmt.Sprintf("应为 1..%d 的整数", maxListLimit), fmt.Sprintf("want an integer in 1..%d, got %q", maxListLimit, v))
		}
		f.Limit = n
	}
	return f, nil
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.ParseInLocation(time.DateOnly, v, time.Local)
}

// matchCall applies a filter in memory (used when no store is wired).
func matchCall(f store.CallFilter, rec callflow.CallRecord) bool {
	if !f.From.IsZero() && rec.Started.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !rec.Started.Before(f.To) {
		return false
	}
	if f.Platform != "" && !touched(rec, callflow.Platform(f.Platform)) {
		return false
	}
	if f.Ticket != "" && rec.Ticket12345 != f.Ticket && rec.Ticket110 != f.Ticket {
		return false
	}
	if f.Category != "" && rec.Category != f.Category && !strings.HasPrefix(rec.Category, f.Category+"/") {
		return false
	}
	if f.Outcome != "" && rec.Outcome != f.Outcome {
		return false
	}
	if f.Agent != "" {
		if _, ok := agentLeg(rec, f.Agent, ""); !ok {
			return false
		}
	}
	return true
}

// decodeDocument reads a (possibly redacted) call document back into a record:
// fields absent from the document are zero, so they match no filter.
func decodeDocument(doc store.Document) (callflow.CallRecord, error) {
	var rec callflow.CallRecord
	raw, err := json.Marshal(doc)
	if err != nil {
		return rec, fmt.Errorf("encode document: %w", err)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, fmt.Errorf("decode document: %w", err)
	}
	return rec, nil
}

// touched reports whether a call involved platform p (first, owner or an agent leg).
func touched(rec callflow.CallRecord, p callflow.Platform) bool {
	if rec.FirstPlatform == p || rec.OwnerPlatform == p {
		return true
	}
	for _, l := range rec.Legs {
		if l.Role == callflow.AgentRole(p) {
			return true
		}
	}
	return false
}

func (s *server) listCalls(w http.ResponseWriter, r *http.Request, p Principal) {
	f, e := parseCallFilter(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var recs []callflow.CallRecord
	switch {
	case s.opt.Store != nil:
		var err error
		if recs, err = s.opt.Store.ListCalls(r.Context(), f); err != nil {
			s.fail(w, r, fmt.Errorf("list calls: %w", err))
			return
		}
	case s.opt.Controller != nil:
		for _, rec := range s.opt.Controller.Calls() {
			if matchCall(f, rec) {
				recs = append(recs, rec)
			}
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].Started.After(recs[j].Started) })
		if len(recs) > f.Limit {
			recs = recs[:f.Limit]
		}
	default:
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "通话记录存储未就绪", "no store or controller", ""))
		return
	}
	out := make([]any, 0, len(recs))
	for _, rec := range recs {
		v, ok, err := s.visible(p, rec)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			continue
		}
		if doc, redacted := v.(store.Document); redacted {
			// The filters ran on the full record; a restricted reader's filter
			// must see only what that reader may: re-apply it on the redacted
			// document, so a filter on a hidden field never matches.
			seen, err := decodeDocument(doc)
			if err != nil {
				s.fail(w, r, fmt.Errorf("filter redacted call %s: %w", rec.ID, err), zap.String("call_id", rec.ID))
				return
			}
			if !matchCall(f, seen) {
				continue
			}
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": out, "count": len(out)})
}

// lookupCall returns the freshest version of a call from the controller and the store.
func (s *server) lookupCall(r *http.Request, id string) (callflow.CallRecord, error) {
	var (
		rec   callflow.CallRecord
		found bool
	)
	if s.opt.Controller != nil {
		rec, found = s.opt.Controller.Call(id)
	}
	if s.opt.Store != nil {
		stored, err := s.opt.Store.GetCall(r.Context(), id)
		switch {
		case err == nil:
			if !found || stored.Version > rec.Version {
				rec, found = stored, true
			}
		case !found:
			return rec, fmt.Errorf("get call %s: %w", id, err)
		}
	}
	if !found {
		return rec, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	return rec, nil
}

func (s *server) getCall(w http.ResponseWriter, r *http.Request, p Principal) {
	id := r.PathValue("id")
	rec, err := s.lookupCall(r, id)
	if err != nil {
		s.fail(w, r, err, zap.String("call_id", id))
		return
	}
	v, ok, err := s.visible(p, rec)
	if err != nil {
		s.fail(w, r, err, zap.String("call_id", id))
		return
	}
	if !ok {
		if p.Role == RoleAgent {
			writeError(w, newError(http.StatusForbidden, "forbidden", "坐席只能查看自己参与的通话", "agents may read only calls they are a leg of", ""))
			return
		}
		writeError(w, newError(http.StatusNotFound, "not_found", "未找到", "call "+id+" not found", ""))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) callDeliveries(w http.ResponseWriter, r *http.Request, p Principal) {
	s.deliveries(w, r, p, "call")
}

func (s *server) deliveries(w http.ResponseWriter, r *http.Request, _ Principal, kind string) {
	if s.opt.Store == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "存储未就绪", "no store", ""))
		return
	}
	id := r.PathValue("id")
	ds, err := s.opt.Store.Deliveries(r.Context(), kind, id)
	if err != nil {
		s.fail(w, r, fmt.Errorf("deliveries of %s %s: %w", kind, id, err))
		return
	}
	if ds == nil {
		ds = []store.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": kind, "id": id, "deliveries": ds})
}

// subscriber is implemented by the store (and may be by the controller when no store is wired).
type subscriber interface {
	Subscribe() (<-chan callflow.CallRecord, func())
}

// events streams every call-record update as server-sent events:
// "event: call", "id: <call id>:<version>", "data: <record JSON>".
func (s *server) events(w http.ResponseWriter, r *http.Request, p Principal) {
	var src subscriber
	if s.opt.Store != nil {
		src = s.opt.Store
	} else if c, ok := s.opt.Controller.(subscriber); ok {
		src = c
	}
	fl, canFlush := w.(http.Flusher)
	if src == nil || !canFlush {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "事件流不可用", "no event source", ""))
		return
	}
	if n := s.streams.Add(1); n > int64(s.opt.MaxStreams) {
		s.streams.Add(-1)
		s.log.Warn("event stream refused: too many open", zap.Int64("open", n-1), zap.String("token", p.Name))
		writeError(w, newError(http.StatusServiceUnavailable, "too_many_streams", "实时连接数已达上限，请稍后重试",
			fmt.Sprintf("too many open event streams (max %d)", s.opt.MaxStreams), ""))
		return
	}
	defer s.streams.Add(-1)
	ch, cancel := src.Subscribe()
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	fl.Flush()
	tick := time.NewTicker(s.opt.Heartbeat)
	defer tick.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		case rec, ok := <-ch:
			if !ok {
				return
			}
			v, ok, err := s.visible(p, rec)
			if err != nil {
				s.log.Error("redact event", zap.String("call_id", rec.ID), zap.Error(err))
				continue
			}
			if !ok {
				continue
			}
			data, err := json.Marshal(v)
			if err != nil {
				s.log.Error("encode event", zap.String("call_id", rec.ID), zap.Error(err))
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %s:%d\nevent: call\ndata: %s\n\n", rec.ID, rec.Version, data); err != nil {
				return
			}
			fl.Flush()
		}
	}
}
