// Package api is linkctl's HTTP face for agent desktops and supervisors: softkeys
// over HTTP, call records and their legs, live record updates (server-sent
// events), system pushes, daily figures, matters-list reload, health, the OpenAPI
// document and the supervisor web page.
//
// It owns transport concerns only: routing, bearer-token access control, strict
// JSON decoding, the error shape and the map from domain errors to HTTP statuses.
// It must not hold call state or decide call flow: softkeys go to the controller
// (package callflow) and records, pushes and figures come from the store, both
// through the consumer-side interfaces Controller and Store declared here.
//
// Access: every /v1 route needs "Authorization: Bearer <token>" with role agent,
// supervisor or admin (admin may do everything). GET /v1/events also accepts
// ?access_token= because browsers' EventSource cannot send headers. When no
// token is configured the API is in dev mode: requests from loopback act as
// admin, other requests get 401, and New logs a warning.
package api
