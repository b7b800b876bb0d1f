// Package callflow is linkctl's domain: citizen calls, their legs, the softkeys of
// the 12345 and 110 agents, transfers between the two platforms and the call
// record. It owns the interface it needs from the phone switch (PBX, with its typed
// events and errors); package ari/client implements it over ARI.
//
// One goroutine per call owns that call's state. PBX events (routed by channel id,
// registered before the command that creates the channel), softkeys (DTMF feature
// codes, the HTTP API through Controller.Softkey, the phone's transfer key) and
// timers reach it as messages in an unbounded mailbox. The call state is an
// explicit enum moved only through the one transition table in state.go; an
// illegal input is a *TransitionError saying from, on what, and why (zh-CN for the
// agent). A call's lifetime is a context.WithCancelCause; teardown is idempotent,
// bounded by controller.teardown_timeout, and hangs the citizen up only because the
// call itself ended — stopping the controller leaves every channel up, and a
// restarted controller adopts the stamped calls (recovery.go).
//
// Before dialling a transfer the controller reads the state of the target group's
// endpoints (PBX.EndpointState; a trunk dial string "PJSIP/110@to110" is checked as
// endpoint to110): when every one is offline the softkey is refused at once with a
// zh-CN reason and the caller stays with the first agent (trunks.go). Inbound
// X-Linkage-* metadata (call id, ticket, category, origin, agent, mode,
// emergency) is believed only from a configured linkage peer
// (controller.linkage_peers, the endpoint of the caller's channel) and only
// value by value: the category must be in the matters list for the direction,
// tickets must pass ValidTicket, every value is capped at MaxInboundValue bytes
// (inbound.go, CheckInbound). Inbound X-Linkage-Flags are honoured from anyone,
// known flag words only (at most MaxInboundFlags): they are kept on the record
// and sent on with transfers; a restricted flag (Options.RestrictedFlags) makes
// the call Confidential, and its transfer legs towards 12345 then carry no
// 警单号, category or agent.
//
// Only the agent connected with the citizen may act on a call (transfer.go,
// actingLeg): the owner, in a three-way also the other platform's agent; during a
// one-key transfer the first agent, who started it, may cancel. A press naming a leg
// that only rang or hung up, another agent's channel, or no leg of the call at all
// is refused with an error wrapping ErrNotConnected (the HTTP API answers 403) and
// is logged, not recorded as that agent's press.
//
// Record versions reach the sink through a saver (saver.go): a version the sink
// refuses (store buffer full) is held, newest per call, and retried with backoff
// until accepted. After a restart, once recovery adopted the calls still on the
// switch, every unfinished stored record whose channels are gone is closed with
// outcome "interrupted" (interrupted.go), so it is delivered and stops showing as in
// progress. Ids carry a per-run prefix of start time and 40 random bits, so they do
// not repeat across restarts (ids.go).
//
// It must not talk HTTP, SQL or SIP, and must not block on the record sink for long.
package callflow
