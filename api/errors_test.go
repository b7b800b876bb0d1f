package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

type statusErr int

func (e statusErr) Error() string   { return fmt.Sprintf("status %d", int(e)) }
func (e statusErr) HTTPStatus() int { return int(e) }

func TestErrorMap(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"not found", fmt.Errorf("get call x: %w", ErrNotFound), http.StatusNotFound, "not_found", ""},
		{"conflict", fmt.Errorf("push p: %w", ErrConflict), http.StatusConflict, "conflict", ""},
		{"invalid", fmt.Errorf("x: %w", ErrInvalid), http.StatusBadRequest, "invalid", ""},
		{"unknown category", fmt.Errorf("softkey: %w", config.ErrUnknownCategory), http.StatusBadRequest, "unknown_category", "category"},
		{"unavailable", fmt.Errorf("ari: %w", ErrUnavailable), http.StatusServiceUnavailable, "unavailable", ""},
		{"deadline", fmt.Errorf("originate: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, "timeout", ""},
		{"cancelled", context.Canceled, http.StatusServiceUnavailable, "cancelled", ""},
		{"self-classifying 422", fmt.Errorf("ari: %w", statusErr(422)), 422, "error", ""},
		{"self-classifying 409", statusErr(409), 409, "conflict", ""},
		{"unknown", errors.New("disk on fire at /var/lib/x"), http.StatusInternalServerError, "internal", ""},
		{"store not found", fmt.Errorf("get push p: %w", store.ErrNotFound), 404, "not_found", ""},
		{"call gone", fmt.Errorf("softkey: %w", callflow.ErrCallNotFound), 404, "not_found", ""},
		{"channel gone", fmt.Errorf("answer: %w", callflow.ErrChannelGone), 409, "channel_gone", ""},
		{"illegal push move", fmt.Errorf("update: %w", &store.TransitionError{ID: "P1", From: store.PushHandled, To: store.PushAccepted, Why: "already handled"}), 409, "illegal_transition", ""},
		{"store field error", fmt.Errorf("create push: %w", &store.FieldError{Field: "summary", Msg: "too long"}), 400, "invalid", "summary"},
		{"unknown key", fmt.Errorf("softkey: %w", callflow.ErrUnknownKey), 400, "invalid_field", "key"},
		{"pbx down", fmt.Errorf("originate: %w", callflow.ErrPBXUnavailable), 503, "pbx_unavailable", ""},
		{"store unhealthy", fmt.Errorf("save: %w", store.ErrUnhealthy), 503, "store_unavailable", ""},
		{"api error passes through", invalidField("limit", "太大", "too big"), 400, "invalid_field", "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := classify(tc.err)
			if e.Status != tc.wantStatus || e.Code != tc.wantCode || e.Field != tc.wantField {
				t.Fatalf("classify(%v) = %d %s %q, want %d %s %q", tc.err, e.Status, e.Code, e.Field, tc.wantStatus, tc.wantCode, tc.wantField)
			}
			if e.Status == 500 && e.Message != "内部错误 / internal error" {
				t.Fatalf("500 must not leak the cause: %q", e.Message)
			}
		})
	}
}

// A controller error carrying the matters list (config.Matters.Lookup's text)
// is answered with a short message and the list in Valid.
func TestClassifyUnknownCategoryMovesListToValid(t *testing.T) {
	m, err := config.LoadMatters("")
	if err != nil {
		t.Fatal(err)
	}
	_, lookErr := m.Lookup("110->12345", "不存在")
	if lookErr == nil {
		t.Fatal("lookup of an unknown category succeeded")
	}
	e := classify(fmt.Errorf("softkey: %w", lookErr))
	want := m.Names("110->12345")
	if e.Code != "unknown_category" || e.Field != "category" || len(e.Valid) != len(want) {
		t.Fatalf("classify = %s %s with %d valid, want %d", e.Code, e.Field, len(e.Valid), len(want))
	}
	for i := range want {
		if e.Valid[i] != want[i] {
			t.Fatalf("valid[%d] = %q, want %q", i, e.Valid[i], want[i])
		}
	}
	if strings.Contains(e.Message, want[len(want)-1]) || !strings.Contains(e.Message, "见 valid") {
		t.Fatalf("message %q", e.Message)
	}
}
