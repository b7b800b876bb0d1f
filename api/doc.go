// Package api is linkctl's HTTP face for agent desktops and supervisors: softkeys
// over HTTP, call records and their legs, live record updates (server-sent
// events), system pushes, daily figures, matters-list reload, health, the OpenAPI
// document (openapi.json, embedded) and the supervisor web page (web/, embedded).
//
// It owns transport concerns only: routing, bearer-token access control, strict
// JSON decoding, the error shape and the one map from callflow/store errors to
// HTTP statuses (errorMap). It must not hold call state or decide call flow:
// softkeys go to the controller and records, pushes and figures come from the
// store, through the consumer-side interfaces Controller and Store declared here
// (satisfied by *callflow.Controller and *store.Store).
//
// # Access
//
// Every /v1 route needs "Authorization: Bearer <token>". Roles: agent (softkeys
// and reads only of calls where the token's agent is a leg; the matters list;
// pushes: create from its own platform, accept/handle/return/feed back the ones
// its platform receives, read them), supervisor (read
// everything), admin (everything, including reload). Tokens come from
// configuration (api.tokens, "${ENV}" allowed), are kept as SHA-256 digests and
// compared in constant time; they are never logged (requests are logged with
// the token's name). GET /v1/events also accepts ?access_token= because browsers'
// EventSource cannot send headers. Readers whose token has platform "12345" get
// restricted 110 records through the store's redaction (fields absent, not blank).
// Their GET /v1/calls filters run on that redacted document too, so a filter on
// a field hidden from them (category, agent, 110 ticket) never matches a
// restricted record; their GET /v1/stats/daily counts restricted calls only in
// the calls/transfers totals and restricted_transfers, in no breakdown.
//
// Dev mode: when no token is configured, requests from loopback act as admin,
// all others get 401, and New logs a warning. Listen on loopback (the default
// api.listen 127.0.0.1:8080) unless tokens are configured.
//
// # Errors
//
// Every error answer is {"error": {"code", "message", "field"}} with the message
// in zh-CN first and English after " / "; 400s name the offending field
// (unknown JSON fields, wrong types, missing or invalid values, "(body)" for
// malformed or oversized bodies), 403s name the role that would be allowed
// (need_role), 401s carry WWW-Authenticate: Bearer. A key given twice in one
// JSON object (duplicate_field) and invalid UTF-8 or a lone surrogate escape in a
// string (invalid_utf8) are refused with the field's path (a.b, items[2]); type
// errors say the expected JSON type or object in words. unknown_category keeps
// its message short and lists the direction's categories in "valid".
package api
