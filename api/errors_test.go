package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"linkctl/config"
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
