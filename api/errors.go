package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// Sentinel errors the API understands; the controller and the store may return
// them (wrapped) or errors with an HTTPStatus() int method.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid request")
	ErrUnavailable = errors.New("unavailable")
)

// apiError is the body of every error answer: {"error": {"code","message","field"}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"` // zh-CN first, English after
	Field   string `json:"field,omitempty"`
	Need    string `json:"need_role,omitempty"` // 403: the role that would be allowed
	// Valid lists the accepted values when there are too many for the message
	// (unknown_category: the matters list of the direction).
	Valid []string `json:"valid,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, zh, en, field string) *apiError {
	return &apiError{Status: status, Code: code, Message: zh + " / " + en, Field: field}
}

// errorClass is one row of the error map.
// unknownCategory is the 400 for a category that is not in the matters list of
// a direction: a short message, the list itself in Valid.
func unknownCategory(category, direction string, valid []string) *apiError {
	e := newError(http.StatusBadRequest, "unknown_category",
		fmt.Sprintf("类别 %s 不在 %s 转办事项清单中，共 %d 项，见 valid", strconv.Quote(category), direction, len(valid)),
		fmt.Sprintf("category %s is not in the %s matters list (%d entries, see valid)", strconv.Quote(category), direction, len(valid)),
		"category")
	e.Valid = valid
	return e
}

// splitValid cuts a "…; valid: a, b, c" tail off an error text (config.Matters.Lookup
// writes one) and returns the short text and the list.
func splitValid(text string) (string, []string) {
	head, tail, ok := strings.Cut(text, "; valid: ")
	if !ok {
		return text, nil
	}
	var valid []string
	for _, v := range strings.Split(tail, ", ") {
		if v = strings.TrimSpace(v); v != "" {
			valid = append(valid, v)
		}
	}
	return head, valid
}

type errorClass struct {
	match  func(error) bool
	status int
	code   string
	zh     string
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

// errorMap is the one map from controller/store errors to HTTP statuses, in order.
var errorMap = []errorClass{
	{is(ErrNotFound), http.StatusNotFound, "not_found", "未找到"},
	{is(store.ErrNotFound), http.StatusNotFound, "not_found", "未找到"},
	{is(callflow.ErrCallNotFound), http.StatusNotFound, "not_found", "通话不存在或已结束"},
	{is(callflow.ErrChannelGone), http.StatusConflict, "channel_gone", "通话段已挂断"},
	{is(callflow.ErrTicketConflict), http.StatusConflict, "ticket_conflict", "该平台已有另一个工单号"},
	{is(callflow.ErrBadTicket), http.StatusBadRequest, "invalid_field", "工单号无效"},
	{is(store.ErrIllegalTransition), http.StatusConflict, "illegal_transition", "当前状态不允许该操作"},
	{is(ErrConflict), http.StatusConflict, "conflict", "状态冲突"},
	{is(store.ErrConflict), http.StatusConflict, "conflict", "已存在"},
	{is(config.ErrUnknownCategory), http.StatusBadRequest, "unknown_category", "类别不在转办事项清单中"},
	{is(callflow.ErrUnknownKey), http.StatusBadRequest, "invalid_field", "未知软按键"},
	{is(ErrInvalid), http.StatusBadRequest, "invalid", "请求无效"},
	{is(store.ErrInvalid), http.StatusBadRequest, "invalid", "请求无效"},
	{is(ErrUnavailable), http.StatusServiceUnavailable, "unavailable", "服务暂不可用"},
	{is(callflow.ErrPBXUnavailable), http.StatusServiceUnavailable, "pbx_unavailable", "交换机不可达"},
	{is(store.ErrUnhealthy), http.StatusServiceUnavailable, "store_unavailable", "存储故障"},
	{is(store.ErrQueueFull), http.StatusServiceUnavailable, "store_unavailable", "存储故障"},
	{is(store.ErrClosed), http.StatusServiceUnavailable, "store_unavailable", "存储已关闭"},
	{is(context.DeadlineExceeded), http.StatusGatewayTimeout, "timeout", "处理超时"},
	{is(context.Canceled), http.StatusServiceUnavailable, "cancelled", "请求已取消"},
}

type httpStatuser interface{ HTTPStatus() int }

// classify maps an error to the answer sent to the client. Unknown errors are
// 500 with a generic message (the detail goes to the log only).
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, c := range errorMap {
		if c.match(err) {
			e := &apiError{Status: c.status, Code: c.code, Message: c.zh + " / " + err.Error()}
			switch {
			case c.code == "unknown_category":
				e.Field = "category"
				text, valid := splitValid(err.Error())
				e.Valid = valid
				e.Message = c.zh
				if len(valid) > 0 {
					e.Message += fmt.Sprintf("，共 %d 项，见 valid", len(valid))
				}
				e.Message += " / " + text
			case errors.Is(err, callflow.ErrUnknownKey):
				e.Field = "key"
			}
			var fe *store.FieldError
			if errors.As(err, &fe) {
				e.Field = fe.Field
			}
			return e
		}
	}
	var hs httpStatuser
	if errors.As(err, &hs) && hs.HTTPStatus() >= 400 && hs.HTTPStatus() < 600 {
		return &apiError{Status: hs.HTTPStatus(), Code: codeFor(hs.HTTPStatus()), Message: http.StatusText(hs.HTTPStatus()) + " / " + err.Error()}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "内部错误 / internal error"}
}

func codeFor(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal"
	}
	return "error"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}
