// Package trace reads the ARI ground truth recorded from a real Asterisk 22
// (../shared/asterisk/traces: NAME.events.jsonl and NAME.http.jsonl) and
// replays it.
//
// Load turns one scenario into typed steps (HTTP exchanges and websocket
// events) in time order; EventTypes gives the event type sequence a
// conformance test compares the embedded switch against, with or without the
// ChannelVarset noise. NewServer serves a trace as an ARI server on loopback
// (REST over httptest, events over a golang.org/x/net/websocket with basic
// auth): it answers the recorded requests with the recorded responses and
// pushes the recorded events in order, released as the client makes the
// requests that caused them, so controller code can be driven by real
// Asterisk output.
//
// Ids: a client choosing its own channel and bridge ids (as linkctl does)
// sees them in responses and events: the server binds each recorded id to
// the client's at the create that named it, and matches later requests
// modulo that binding. Events carrying the same millisecond as a request are
// held for it when they concern what it names (Asterisk answers within the
// millisecond). GETs recorded ahead of the replay's progress answer as of
// now (an empty list before anything happened). Release, Requests and
// Connections let a test steer and inspect a replay; package drive runs
// linkctl's adapter and controller on the traces with it.
//
// The package only reads the traces; it never writes to the shared folder,
// and it does not pretend to be a switch: a request that was not recorded is
// answered 500 and reported by Server.Misses.
package trace
