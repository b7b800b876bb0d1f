package api

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"linkctl/callflow"
)

// ticketBody links a platform's own ticket (12345 工单号 or 110 警单号) to a call.
type ticketBody struct {
	Platform string `json:"platform"`
	TicketID string `json:"ticket_id"`
}

// setTicket is POST /v1/calls/{id}/tickets: the receiving side assigns the ticket it
// created for the call. An agent may link only its own platform's ticket, and only on
// a call it took part in; an admin may link either.
func (s *server) setTicket(w http.ResponseWriter, r *http.Request, p Principal) {
	callID := r.PathValue("id")
	var b ticketBody
	if e := decodeJSON(w, r, s.opt.MaxBodyBytes, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.Platform == "" {
		writeError(w, requiredError("platform"))
		return
	}
	if b.Platform != string(callflow.Platform12345) && b.Platform != string(callflow.Platform110) {
		writeError(w, invalidField("platform", "平台应为 12345 或 110", "platform must be 12345 or 110"))
		return
	}
	if b.TicketID == "" {
		writeError(w, requiredError("ticket_id"))
		return
	}
	if err := callflow.ValidTicket(b.TicketID); err != nil {
		writeError(w, invalidField("ticket_id", "工单号应为 1–64 个字符，不含空格或控制字符", err.Error()))
		return
	}
	if s.opt.Controller == nil {
		writeError(w, newError(http.StatusServiceUnavailable, "unavailable", "呼叫控制器未就绪", "controller not available", ""))
		return
	}
	if p.Role == RoleAgent {
		rec, err := s.lookupCall(r, callID)
		if err != nil {
			writeError(w, classify(err))
			return
		}
		leg, ok := agentLeg(rec, p.Agent, "")
		if !ok || leg.Answered == nil {
			writeError(w, newError(http.StatusForbidden, "forbidden", "坐席 "+p.Agent+" 未参与该通话，不能关联工单号",
				"agent "+p.Agent+" did not take part in call "+callID, ""))
			return
		}
		if string(leg.Role) != string(callflow.AgentRole(callflow.Platform(b.Platform))) || (p.Platform != "" && p.Platform != b.Platform) {
			writeError(w, newError(http.StatusForbidden, "forbidden", "坐席只能关联本平台的工单号",
				"an agent may link its own platform's ticket only", "platform"))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.SoftkeyTimeout)
	defer cancel()
	rec, err := s.opt.Controller.SetTicket(ctx, callID, callflow.Platform(b.Platform), b.TicketID)
	if err != nil {
		writeError(w, classify(err))
		return
	}
	s.log.Info("ticket linked", zap.String("call_id", callID), zap.String("platform", b.Platform),
		zap.String("ticket_id", b.TicketID), zap.String("token", p.Name))
	v, ok, err := s.visible(p, rec)
	if err != nil || !ok {
		writeJSON(w, http.StatusOK, map[string]string{"id": rec.ID, "platform": b.Platform, "ticket_id": b.TicketID})
		return
	}
	writeJSON(w, http.StatusOK, v)
}
