// Package store is linkctl's persistence adapter: durable call records,
// system pushes (系统推送) and the ticket-system outbox, in an embedded SQLite
// file (modernc.org/sqlite, no cgo; default linkctl.db) or in PostgreSQL
// (pgx) when a DSN is configured. It knows neither ARI nor SIP nor how calls
// flow: it stores what package callflow writes and delivers it.
//
// # Records
//
// Store implements callflow.RecordSink. SaveCall never waits on the database:
// it keeps the newest version of each call in memory and a writer goroutine
// upserts them (JSON document plus indexed columns), keeping the highest
// Version. While the database fails (full disk, lost PostgreSQL connection)
// the writer retries with backoff, logs at error level and Healthy reports the
// fault; calls go on. Schema changes are versioned migrations recorded in
// schema_migrations and applied by Open.
//
// # Ticket systems
//
// Each finished call record version (Ended set) and each push event is queued,
// in the same transaction that stores it, for every configured ticket system
// (12345 工单系统, 110 警情系统). One worker per system POSTs the documents in
// queue order with:
//
//	Content-Type:        application/json; charset=utf-8
//	Idempotency-Key:     call:<call id>:v<version> | push:<push id>:<event seq>
//	X-Linkage-Event:     call.record | push.created | push.accepted | push.handled | push.feedback | push.returned
//	X-Linkage-Signature: sha256=<hex HMAC-SHA256(secret, body)>
//
// 2xx marks the document delivered; 408, 429, 5xx, timeouts and broken
// connections are retried with exponential backoff (backoff_min doubling to
// backoff_max, ±20% jitter, Retry-After honoured); any other answer marks it
// failed with the reason. The queue lives in the database, so a ticket system
// that is down for hours loses nothing across linkctl restarts, and a retry
// carries the same body and Idempotency-Key: the receiver deduplicates on that
// key to get each document exactly once in effect. A newer version of a call
// record supersedes an older one not yet delivered.
//
// The body (schema "linkctl.ticket.v1"):
//
//	{
//	  "schema": "linkctl.ticket.v1",
//	  "event": "call.record",            // see X-Linkage-Event
//	  "idempotency_key": "call:C-1:v7",
//	  "system": "12345",                 // receiving ticket system (config name)
//	  "platform": "12345",               // its platform: decides redaction
//	  "queued": "2026-12-03T10:00:00Z",
//	  "call": { ...callflow.CallRecord JSON: id, first_platform, owner_platform,
//	            caller_number, ticket_12345, ticket_110, category, emergency,
//	            confidential, state, started, answered, ended, end_cause, outcome,
//	            legs[], softkeys[], transfers[], inbound_headers, version },
//	  "push": { ...Push JSON: id, direction, category, flags, restricted, summary,
//	            contact{name,phone,address}, attachments[{name,ref,type}],
//	            ticket_12345, ticket_110, call_id, created_by, status, reason,
//	            feedback{result,handler,ticket,original_ticket,at}, history[],
//	            created, updated, version }
//	}
//
// Exactly one of "call" and "push" is present.
//
// # Confidentiality
//
// Policy (store.confidentiality) marks records and pushes under restricted
// knowledge (涉密、涉稳、涉恐、涉案、重大敏感 flags, restricted categories, or
// CallRecord.Confidential). Policy.RedactFor is the one redaction step of
// every outbound path — record delivery, push events, feedback, and the API's
// answers to 12345-side readers: for the 12345 side a restricted item keeps
// only the configured fields and every other field is absent from the JSON.
// A restricted call the 12345 side had no part in is not sent to 12345 at all.
//
// # Pushes
//
// A push moves pushed → accepted → handled → fed-back, one status at a time
// (feedback on a push not yet handled is refused), or pushed/accepted →
// returned (回流) with a reason.
// Any other move is a *TransitionError naming from and to.
package store
