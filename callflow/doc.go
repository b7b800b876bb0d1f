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
// X-Linkage-Flags are kept on the record and sent on with transfers; a restricted
// flag (Options.RestrictedFlags) makes the call Confidential, and its transfer legs
// towards 12345 then carry no 警单号, category or agent.
//
// It must not talk HTTP, SQL or SIP, and must not block on the record sink for long.
package callflow
