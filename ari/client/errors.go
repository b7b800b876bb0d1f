package client

import (
	"encoding/json"
	"strings"

	"linkctl/callflow"
)

// classify maps an ARI error answer to a callflow error kind. path is the request
// path without the /ari prefix (e.g. "/channels/x/variable").
func classify(status int, path, message string) error {
	msg := strings.ToLower(message)
	switch {
	case status == 404 && strings.HasPrefix(path, "/bridges"):
		return callflow.ErrBridgeGone
	case status == 404 && strings.HasPrefix(path, "/endpoints"):
		return callflow.ErrNoSuchEndpoint
	case status == 404 && strings.Contains(msg, "variable"):
		return callflow.ErrNoSuchVariable
	case status == 404:
		return callflow.ErrChannelGone // channel or playback gone
	case status == 400 && strings.Contains(msg, "channel not found"):
		return callflow.ErrChannelGone // addChannel/removeChannel of a hung-up channel (t12)
	case status == 400:
		return callflow.ErrBadRequest
	case status == 409:
		return callflow.ErrConflict
	case status == 422:
		return callflow.ErrNotInStasis
	case status == 500 && strings.Contains(msg, "allocation failed"):
		return callflow.ErrAllocationFailed
	case status == 500 && strings.Contains(msg, "unable to read provided function"):
		return callflow.ErrNoSuchVariable // absent PJSIP header (t03)
	case status >= 500:
		return callflow.ErrPBXInternal
	}
	return callflow.ErrPBXInternal
}

// errorMessage pulls the text out of an ARI error body: {"message": ...} or,
// for originate allocation failures, {"error": ...}.
func errorMessage(body []byte) string {
	var b struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil {
		if b.Message != "" {
			return b.Message
		}
		if b.Error != "" {
			return b.Error
		}
	}
	return strings.TrimSpace(string(body))
}
