// Package sim is the Sim channel technology (dial strings Sim/<name>): simulated
// phones for tests, demos and benchmarks. Endpoints answer, ring forever, are
// busy or unavailable per script, send DTMF and hang up on timers, or are played
// from Go (Phone.Call, OnIncoming with Answer/Reject/Ring). A phone may talk (a
// sine of its own frequency) and listen (Goertzel), so audio paths can be tested
// without SIP; that is off by default so 1,000-call benchmarks stay cheap.
//
// Sim is the outside world talking to the switch through the technology
// contract; the controller must never use it as a side door.
package sim
