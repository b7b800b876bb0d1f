package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/store"
)

type pushBody struct {
	Direction   string             `json:"direction"`
	Category    string             `json:"category"`
	Flags       []string           `json:"flags"`
	Summary     string             `json:"summary"`
	Contact     store.Contact      `json:"contact"`
	Attachments []store.Attachment `json:"attachments"`
	Ticket12345 string             `json:"ticket_12345"`
	Ticket110   string             `json:"ticket_110"`
	CallID      string             `json:"call_id"`
}

const (
	maxSummaryRunes = 2000
	maxAttachments  = 20
	maxRefLen       = 512
	maxFlags        = 10
)

var directions = []string{string(callflow.Dir12345To110), string(callflow.Dir110To12345)}

func (s *server) createPush(w http.ResponseWriter, r *http.Request, p Principal) {
	var b pushBody
	if e := decodeJSON(w, r, s.opt.MaxBodyBytes, &b); e != nil {
		writeError(w, e)
		return
	}
	if e := s.validatePush(p, b); e != nil {
		writeError(w, e)
		return
	}
	if s.opt.Store == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "存储未就绪", "no store", ""))
		return
	}
	push, err := s.opt.Store.CreatePush(r.Context(), store.Push{
		Direction: callflow.Direction(b.Direction), Category: b.Category, Flags: b.Flags, Summary: b.Summary,
		Contact: b.Contact, Attachments: b.Attachments, Ticket12345: b.Ticket12345, Ticket110: b.Ticket110,
		CallID: b.CallID, CreatedBy: p.Name,
	})
	if err != nil {
		s.fail(w, r, fmt.Errorf("create push: %w", err))
		return
	}
	s.log.Info("push created", zap.String("push_id", push.ID), zap.String("direction", string(push.Direction)),
		zap.String("ticket_12345", push.Ticket12345), zap.String("ticket_110", push.Ticket110), zap.String("token", p.Name))
	v, ok, err := s.pushVisible(p, push)
	if err != nil || !ok {
		v = map[string]string{"id": push.ID}
	}
	w.Header().Set("Location", "/v1/pushes/"+push.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (s *server) validatePush(p Principal, b pushBody) *apiError {
	if b.Direction == "" {
		return requiredError("direction")
	}
	if !slices.Contains(directions, b.Direction) {
		return invalidField("direction", "应为 "+strings.Join(directions, " 或 "), "want "+strings.Join(directions, " or ")+", got "+strconv.Quote(b.Direction))
	}
	if p.Platform != "" && !strings.HasPrefix(b.Direction, p.Platform+"->") {
		return newError(http.StatusForbidden, "forbidden", "该令牌属于 "+p.Platform+" 平台，只能从本平台推送",
			"this token belongs to platform "+p.Platform+" and may push only from it", "direction")
	}
	if b.Category == "" {
		return requiredError("category")
	}
	if s.opt.Matters != nil {
		if m := s.opt.Matters(); m != nil {
			if _, err := m.Lookup(b.Direction, b.Category); err != nil {
				return unknownCategory(b.Category, b.Direction, m.Names(b.Direction))
			}
		}
	}
	fields := []textField{
		{"category", b.Category, 128, false}, {"ticket_12345", b.Ticket12345, 64, false}, {"ticket_110", b.Ticket110, 64, false},
		{"call_id", b.CallID, 128, false}, {"summary", b.Summary, maxSummaryRunes, true},
		{"contact.name", b.Contact.Name, 64, false}, {"contact.phone", b.Contact.Phone, 32, false}, {"contact.address", b.Contact.Address, 256, false},
	}
	for i, f := range b.Flags {
		fields = append(fields, textField{fmt.Sprintf("flags[%d]", i), f, 32, false})
	}
	for i, a := range b.Attachments {
		fields = append(fields, textField{fmt.Sprintf("attachments[%d].name", i), a.Name, 256, false},
			textField{fmt.Sprintf("attachments[%d].type", i), a.Type, 64, false})
	}
	if e := checkText(fields...); e != nil {
		return e
	}
	if b.Ticket12345 == "" && b.Ticket110 == "" {
		return newError(http.StatusBadRequest, "missing_field", "需要发送方工单号（ticket_12345 或 ticket_110）",
			"the sending side's ticket id is required (ticket_12345 or ticket_110)", "ticket_"+strings.SplitN(b.Direction, "->", 2)[0])
	}
	if len(b.Flags) > maxFlags {
		return invalidField("flags", fmt.Sprintf("标记不超过 %d 个", maxFlags), fmt.Sprintf("at most %d flags", maxFlags))
	}
	if strings.TrimSpace(b.Summary) == "" {
		return requiredError("summary")
	}
	if n := utf8.RuneCountInString(b.Summary); n > maxSummaryRunes {
		return invalidField("summary", fmt.Sprintf("不超过 %d 字（现 %d 字）", maxSummaryRunes, n), fmt.Sprintf("at most %d characters, got %d", maxSummaryRunes, n))
	}
	if len(b.Attachments) > maxAttachments {
		return invalidField("attachments", fmt.Sprintf("附件引用不超过 %d 个", maxAttachments), fmt.Sprintf("at most %d references", maxAttachments))
	}
	for i, a := range b.Attachments {
		field := fmt.Sprintf("attachments[%d].ref", i)
		switch {
		case a.Ref == "":
			return requiredError(field)
		case len(a.Ref) > maxRefLen:
			return invalidField(field, fmt.Sprintf("附件引用不超过 %d 字节", maxRefLen), fmt.Sprintf("reference longer than %d bytes", maxRefLen))
		case strings.HasPrefix(strings.ToLower(a.Ref), "data:"):
			return invalidField(field, "只接受附件引用（URL 或文档编号），不接受附件内容", "attachments are references (URL or document id), not content")
		}
	}
	return nil
}

var pushQueryKeys = []string{"direction", "status", "ticket", "limit"}

func (s *server) listPushes(w http.ResponseWriter, r *http.Request, p Principal) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(pushQueryKeys, k) {
			writeError(w, newError(http.StatusBadRequest, "unknown_parameter", "未知查询参数 "+strconv.Quote(k)+"，可用："+strings.Join(pushQueryKeys, ", "),
				"unknown query parameter "+strconv.Quote(k), k))
			return
		}
	}
	f := store.PushFilter{Direction: callflow.Direction(q.Get("direction")), Ticket: q.Get("ticket"), Limit: 100}
	if f.Direction != "" && !slices.Contains(directions, string(f.Direction)) {
		writeError(w, invalidField("direction", "应为 "+strings.Join(directions, " 或 "), "want "+strings.Join(directions, " or ")))
		return
	}
	if v := q.Get("status"); v != "" {
		st, err := store.ParsePushStatus(v)
		if err != nil {
			writeError(w, invalidField("status", "未知状态，可用：pushed, accepted, handled, fed-back, returned", err.Error()))
			return
		}
		f.Status = st
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			writeError(w, invalidField("limit", fmt.Sprintf("应为 1..%d 的整数", maxListLimit), fmt.Sprintf("want an integer in 1..%d", maxListLimit)))
			return
		}
		f.Limit = n
	}
	if s.opt.Store == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "存储未就绪", "no store", ""))
		return
	}
	ps, err := s.opt.Store.ListPushes(r.Context(), f)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list pushes: %w", err))
		return
	}
	out := make([]any, 0, len(ps))
	for _, push := range ps {
		v, ok, err := s.pushVisible(p, push)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if ok {
			out = append(out, v)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pushes": out, "count": len(out)})
}

// pushVisible returns what p may see of a push: 12345-side readers get the
// redacted document (without a redactor, restricted pushes are hidden from them).
func (s *server) pushVisible(p Principal, push store.Push) (any, bool, error) {
	if p.Platform != string(callflow.Platform12345) {
		return push, true, nil
	}
	if s.opt.Redact != nil {
		doc, err := s.opt.Redact(callflow.Platform12345, push)
		if err != nil {
			return nil, false, fmt.Errorf("redact push %s: %w", push.ID, err)
		}
		return doc, true, nil
	}
	return push, !push.Restricted, nil
}

func (s *server) getPush(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.opt.Store == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "存储未就绪", "no store", ""))
		return
	}
	id := r.PathValue("id")
	push, err := s.opt.Store.GetPush(r.Context(), id)
	if err != nil {
		s.fail(w, r, fmt.Errorf("get push %s: %w", id, err))
		return
	}
	v, ok, err := s.pushVisible(p, push)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		writeError(w, newError(http.StatusNotFound, "not_found", "未找到", "push "+id+" not found", ""))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) pushDeliveries(w http.ResponseWriter, r *http.Request, p Principal) {
	s.deliveries(w, r, p, "push")
}

type feedbackBody struct {
	Result         string `json:"result"`
	Handler        string `json:"handler"`
	Ticket         string `json:"ticket"`
	OriginalTicket string `json:"original_ticket"`
}

// pushFeedback records the other platform's result (反馈回写) and links it to the original ticket.
func (s *server) pushFeedback(w http.ResponseWriter, r *http.Request, p Principal) {
	var b feedbackBody
	if e := decodeJSON(w, r, s.opt.MaxBodyBytes, &b); e != nil {
		writeError(w, e)
		return
	}
	if strings.TrimSpace(b.Result) == "" {
		writeError(w, requiredError("result"))
		return
	}
	if e := checkText(textField{"result", b.Result, maxSummaryRunes, true}, textField{"handler", b.Handler, 128, false},
		textField{"ticket", b.Ticket, 64, false}, textField{"original_ticket", b.OriginalTicket, 64, false}); e != nil {
		writeError(w, e)
		return
	}
	fb := &store.Feedback{Result: b.Result, Handler: b.Handler, Ticket: b.Ticket, OriginalTicket: b.OriginalTicket, At: s.opt.Now()}
	s.updatePush(w, r, p, store.PushUpdate{Status: store.PushFedBack, By: p.Name, Ticket: b.Ticket, Feedback: fb})
}

type statusBody struct {
	Status string `json:"status"` // accept, handle, return
	Reason string `json:"reason"`
	Ticket string `json:"ticket"`
}

var statusActions = map[string]store.PushStatus{"accept": store.PushAccepted, "handle": store.PushHandled, "return": store.PushReturned}

// pushStatus moves a push: accept (受理), handle (办结), return (回流, reason required).
func (s *server) pushStatus(w http.ResponseWriter, r *http.Request, p Principal) {
	var b statusBody
	if e := decodeJSON(w, r, s.opt.MaxBodyBytes, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.Status == "" {
		writeError(w, requiredError("status"))
		return
	}
	if e := checkText(textField{"reason", b.Reason, 500, true}, textField{"ticket", b.Ticket, 64, false}); e != nil {
		writeError(w, e)
		return
	}
	st, ok := statusActions[b.Status]
	if !ok {
		writeError(w, invalidField("status", "应为 accept（受理）、handle（办结）或 return（回流）", "want accept, handle or return, got "+strconv.Quote(b.Status)))
		return
	}
	if st == store.PushReturned && strings.TrimSpace(b.Reason) == "" {
		writeError(w, newError(http.StatusBadRequest, "missing_field", "回流必须填写原因", "reason is required to return a push", "reason"))
		return
	}
	s.updatePush(w, r, p, store.PushUpdate{Status: st, By: p.Name, Reason: b.Reason, Ticket: b.Ticket})
}

func (s *server) updatePush(w http.ResponseWriter, r *http.Request, p Principal, u store.PushUpdate) {
	if s.opt.Store == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "存储未就绪", "no store", ""))
		return
	}
	id := r.PathValue("id")
	if p.Platform != "" {
		// Only the receiving platform accepts, handles, returns or feeds back.
		cur, err := s.opt.Store.GetPush(r.Context(), id)
		if err != nil {
			s.fail(w, r, fmt.Errorf("get push %s: %w", id, err), zap.String("push_id", id))
			return
		}
		if to := string(cur.To()); to != p.Platform {
			writeError(w, newError(http.StatusForbidden, "forbidden",
				"只有接收方（"+to+" 平台）可以变更该推送的状态", "only the receiving platform ("+to+") may change this push", ""))
			return
		}
	}
	push, err := s.opt.Store.UpdatePush(r.Context(), id, u)
	if err != nil {
		s.fail(w, r, fmt.Errorf("update push %s to %s: %w", id, u.Status, err), zap.String("push_id", id))
		return
	}
	s.log.Info("push updated", zap.String("push_id", id), zap.String("status", u.Status.String()), zap.String("token", p.Name))
	v, ok, err := s.pushVisible(p, push)
	if err != nil || !ok {
		v = map[string]string{"id": push.ID, "status": push.Status.String()}
	}
	writeJSON(w, http.StatusOK, v)
}
