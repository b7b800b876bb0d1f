// Package engine is the core of linkctl's embedded switch: an in-process PBX that
// behaves, as seen over ARI, like the Asterisk 22 recorded in ../shared/asterisk
// (channels, mixing bridges, a dialplan that routes 12345/110 into Stasis,
// Stasis applications, originate/create/dial, playbacks, MOH, DTMF, variables,
// transfer_progress) and emits Asterisk's events in Asterisk's order.
//
// One mutex guards all state; events are queued to each application's
// subscribers while it is held, so every application sees one strict order.
// Channel technologies (tech.go: Sim in ari/sim, SIP in sip/tech) are called
// only after the mutex is released. A 20 ms media clock (Run/Tick) mixes the
// bridges whose members have a MediaPort and feeds generated audio (playback,
// MOH, ringback) to channels; channels without media cost it nothing. The clock
// (clock.go) keeps absolute 20 ms marks: a tick that ran late is followed at once
// by the ticks it owes (frames more than 8 behind are skipped and counted), ports
// that stamp their own timing (TimedMediaPort, RTP) get each frame's due time so
// a catch-up burst stays one stream, and while ticks take over 3/4 of a frame each
// tick is shared by up to GOMAXPROCS goroutines (whole bridges each, assigned in
// order). MediaClock reports ticks, late and skipped ticks and tick durations.
// Hearing/Observe are audit hooks for tests.
//
// Shutdown (drain.go): a switch that dies with its process drains with
// Drain: StartDrain refuses new inbound calls (cause 42, SIP 503 with
// Retry-After), live calls go on until they end or the timeout, then HangupAll
// ends the rest with cause 16 through their technologies, emitting the usual
// events so the applications close their calls; WaitIdle waits for the last
// channel. Phase reports serving / draining / ending.
//
// The engine does not speak HTTP (ari/server does) and never decides call flow:
// that is the controller's job, over ARI.
package engine
